package io.nodemesh.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/**
 * The failure path of {@link SocketOptions}: what is not a socket is refused with the call and the
 * errno named. Marking real sockets is tested in node-proxy (capture.NioDescriptorsTest and the
 * capture tests, where an unmarked upstream socket would be captured again).
 */
class SocketOptionsTest {

    private static final int ENOTSOCK = 88;

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
}
