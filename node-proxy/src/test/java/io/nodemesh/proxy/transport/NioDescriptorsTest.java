package io.nodemesh.proxy.transport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.channel.Channel;
import io.netty.channel.ChannelException;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.SocketOptions;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.proxy.inpod.NamespacedChannelFactory;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The descriptor read from a NIO channel is that channel's socket: checked against the kernel's own
 * view (the listening socket's inode in /proc/net/tcp*, socket options set through Java read back by
 * descriptor), then the mark set through it, and what happens without {@code --add-exports}.
 */
class NioDescriptorsTest {

    private static final int SO_TYPE = 3;
    private static final int SOCK_STREAM = 1;
    private static final int SO_KEEPALIVE = 9;
    private static final int SO_ACCEPTCONN = 30;

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    @Test
    void theDescriptorOfAJdkSocketChannelIsThatSocket() throws Exception {
        assertThat(NioDescriptors.unavailability()).as("surefire runs with " + NioDescriptors.FLAG).isEmpty();
        try (ServerSocketChannel server = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
             SocketChannel client = SocketChannel.open(server.getLocalAddress());
             SocketChannel accepted = server.accept()) {
            client.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            accepted.setOption(StandardSocketOptions.SO_KEEPALIVE, false);
            int s = NioDescriptors.fd(server);
            int c = NioDescriptors.fd(client);
            int a = NioDescriptors.fd(accepted);
            assertThat(List.of(s, c, a)).doesNotHaveDuplicates().allSatisfy(fd -> {
                assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString()).startsWith("socket:[");
                assertThat(SocketOptions.intOption(fd, SocketOptions.SOL_SOCKET, SO_TYPE)).isEqualTo(SOCK_STREAM);
            });
            // The kernel lists the listening socket with its inode; the descriptor must point at that inode.
            int port = ((InetSocketAddress) server.getLocalAddress()).getPort();
            assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + s)).toString())
                    .isEqualTo("socket:[" + listeningInode(port) + "]");
            assertThat(SocketOptions.intOption(s, SocketOptions.SOL_SOCKET, SO_ACCEPTCONN)).isEqualTo(1);
            assertThat(SocketOptions.intOption(c, SocketOptions.SOL_SOCKET, SO_ACCEPTCONN)).isZero();
            assertThat(SocketOptions.intOption(c, SocketOptions.SOL_SOCKET, SO_KEEPALIVE)).isEqualTo(1);
            assertThat(SocketOptions.intOption(a, SocketOptions.SOL_SOCKET, SO_KEEPALIVE)).isZero();
        }
    }

    @Test
    void nettyNioChannelsHaveTheirSocketsDescriptorAndOthersAreRefused() throws Exception {
        List<Channel> channels = List.of(new NioSocketChannel(), new NioServerSocketChannel());
        try {
            for (Channel ch : channels) {
                int fd = NioDescriptors.fd(ch);
                assertThat(SocketOptions.intOption(fd, SocketOptions.SOL_SOCKET, SO_TYPE)).isEqualTo(SOCK_STREAM);
                assertThat(SocketOptions.intOption(fd, SocketOptions.SOL_SOCKET, SO_ACCEPTCONN)).isZero();
            }
            assertThat(NioDescriptors.fd(channels.get(0))).isNotEqualTo(NioDescriptors.fd(channels.get(1)));
        } finally {
            channels.forEach(ch -> ch.unsafe().closeForcibly());
        }
        EmbeddedChannel embedded = new EmbeddedChannel();
        assertThatThrownBy(() -> NioDescriptors.fd(embedded)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not a NIO channel");
        embedded.finishAndReleaseAll();
    }

    @Test
    void nioUpstreamSocketsCarryTheMarkAndKeepaliveBeforeTheyConnect() throws Exception {
        Netns pod = net.namespace("pod");
        try (NetworkNamespace ns = NetworkNamespace.open(pod.path())) {
            Transport nio = Transport.select(TransportKind.NIO, notice -> {
                throw new AssertionError("no notice expected on NIO now: " + notice);
            });
            assertThat(nio.readsOriginalDestination()).isTrue();
            Channel ch = nio.socketChannels(ns, 0x539, () -> true, TcpKeepalive::defaults).newChannel();
            try {
                assertThat(ch).isInstanceOf(NioSocketChannel.class);
                assertThat(SocketOptions.mark(NioDescriptors.fd(ch))).isEqualTo(0x539);
                assertThat(SocketOptions.keepalive(NioDescriptors.fd(ch))).containsExactly(180, 180, 9);
                // Made inside the pod's namespace: its (empty) /proc/net/tcp lists no socket of ours.
                assertThat(pod.execOk("cat", "/proc/net/tcp").stdout().lines().count()).isEqualTo(1);
            } finally {
                ch.unsafe().closeForcibly();
            }
        }
    }

    @Test
    void aSocketWhoseSetupFailsIsClosedAndTheAttemptFailsWithTheReason() throws Exception {
        Netns pod = net.namespace("pod");
        AtomicReference<Channel> made = new AtomicReference<>();
        try (NetworkNamespace ns = NetworkNamespace.open(pod.path())) {
            NamespacedChannelFactory<Channel> factory = new NamespacedChannelFactory<>(ns, NioSocketChannel::new, ch -> {
                made.set(ch);
                throw new IOException("setsockopt(fd 42, SOL_SOCKET, SO_MARK, 0x539): Operation not permitted (errno 1)");
            }, "set the mark 0x539 (SO_MARK)");
            assertThatThrownBy(factory::newChannel).isInstanceOf(ChannelException.class)
                    .hasMessageContaining("cannot set the mark 0x539 (SO_MARK) on a new socket in")
                    .hasMessageContaining("Operation not permitted (errno 1)");
            assertThat(made.get()).isNotNull();
            assertThat(made.get().isOpen()).isFalse();
        }
    }

    /** Without {@code --add-exports} the NIO transport says why it cannot capture and which flag fixes it. */
    @Test
    void withoutTheFlagTheNoticeNamesTheReasonAndTheFlag() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"),
                WithoutFlag.class.getName()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).contains("notice: NIO transport: the JVM does not export sun.nio.ch to nodemesh")
                .contains("run java with --add-exports=java.base/sun.nio.ch=ALL-UNNAMED")
                .contains("captured connections are closed")
                .contains("readsOriginalDestination=false")
                .contains("fd: java.lang.IllegalStateException: cannot read the file descriptor of a NIO socket");
    }

    /** Run in a child JVM without the flag by the test above. */
    static final class WithoutFlag {
        public static void main(String[] args) throws Exception {
            Transport t = Transport.select(TransportKind.NIO, n -> System.out.println("notice: " + n));
            System.out.println("readsOriginalDestination=" + t.readsOriginalDestination());
            try (SocketChannel ch = SocketChannel.open()) {
                System.out.println("fd: " + NioDescriptors.fd(ch));
            } catch (IllegalStateException e) {
                System.out.println("fd: " + e);
            }
        }
    }

    /** The inode of the socket listening on {@code port}, from /proc/net/tcp or tcp6. */
    private static String listeningInode(int port) throws IOException {
        String hexPort = String.format(Locale.ROOT, ":%04X", port);
        for (String table : List.of("/proc/net/tcp", "/proc/net/tcp6")) {
            for (String line : Files.readAllLines(Path.of(table))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && f[1].endsWith(hexPort) && f[3].equals("0A")) {
                    return f[9];
                }
            }
        }
        throw new AssertionError("no socket listening on port " + port + " in /proc/net/tcp*");
    }
}
