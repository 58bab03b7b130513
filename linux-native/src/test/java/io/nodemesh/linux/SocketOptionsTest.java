package io.nodemesh.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * {@link SocketOptions} on real sockets and the failure path: what is not a socket is refused with the call and the
 * errno named. Marking real sockets is tested in node-proxy (capture.NioDescriptorsTest and the capture tests, where
 * an unmarked upstream socket would be captured again), and so is keepalive on relayed connections (KeepaliveTest).
 */
class SocketOptionsTest {

    private static final int ENOTSOCK = 88;
    private static final int EINVAL = 22;
    private static final int AF_INET = 2;
    private static final int SOCK_STREAM = 1;

    @Test
    void markingSomethingThatIsNotASocketFailsNamingTheCallAndErrno() throws Exception {
        int fd = Libc.open("/dev/null", Libc.O_RDONLY | Libc.O_CLOEXEC);
        try {
            assertThatThrownBy(() -> SocketOptions.setMark(fd, 0x539))
                    .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(ENOTSOCK))
                    .hasMessageContaining("setsockopt(fd " + fd + ", SOL_SOCKET, SO_MARK, 0x539)")
                    .hasMessageContaining("(errno 88)");
            assertThatThrownBy(() -> SocketOptions.mark(fd))
                    .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(ENOTSOCK));
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void keepaliveIsSetReadBackAndCleared() throws Exception {
        int fd = Libc.socket(AF_INET, SOCK_STREAM, "AF_INET, SOCK_STREAM");
        try {
            assertThat(SocketOptions.keepalive(fd)).isNull();
            SocketOptions.setKeepalive(fd, 7, 3, 4);
            assertThat(SocketOptions.keepalive(fd)).containsExactly(7, 3, 4);
            SocketOptions.clearKeepalive(fd);
            assertThat(SocketOptions.keepalive(fd)).isNull();
        } finally {
            Libc.close(fd);
        }
    }

    @Test
    void keepaliveOutOfTheKernelsRangeFailsNamingTheOptionAndLeavesItOff() throws Exception {
        int fd = Libc.socket(AF_INET, SOCK_STREAM, "AF_INET, SOCK_STREAM");
        try {
            assertThatThrownBy(() -> SocketOptions.setKeepalive(fd, 60, 60, 128))
                    .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(EINVAL))
                    .hasMessageContaining("setsockopt(fd " + fd + ", TCP_KEEPCNT, 128)");
            assertThat(SocketOptions.keepalive(fd)).isNull();
        } finally {
            Libc.close(fd);
        }
    }
}
