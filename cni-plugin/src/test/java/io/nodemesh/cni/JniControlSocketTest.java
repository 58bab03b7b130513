package io.nodemesh.cni;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.OptionalInt;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The plugin's JNI functions (libnodemesh-cni.so, built at compile beside target/classes) against real descriptors
 * and a real {@code SOCK_SEQPACKET} listener: what arrives, and how each failure is told apart (the decisions in
 * {@link Commands} depend on it: unreachable and timed out are "try again", a path that is no network namespace is the
 * pod's bad input).
 */
class JniControlSocketTest {

    @TempDir
    Path dir;

    private final JniControlSocket socket = new JniControlSocket();

    @BeforeAll
    static void library() {
        JniControlSocket.load(Path.of("target/libnodemesh-cni.so").toAbsolutePath().toString());
    }

    @Test
    void theNamespaceGoesByScmRightsAndTheReplyComesBack() throws Exception {
        try (ControlSocketServer server = ControlSocketServer.answering(dir.resolve("cni.sock"))) {
            int fd = socket.openNetwork(Path.of("/proc/self/ns/net"));
            byte[] reply;
            try {
                assertThat(Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString()).startsWith("net:[");
                reply = socket.call(server.path(), Duration.ofSeconds(5), "{\"command\":\"ADD\"}".getBytes(),
                        OptionalInt.of(fd));
            } finally {
                socket.close(fd);
            }
            assertThat(new String(reply, StandardCharsets.UTF_8)).isEqualTo(ControlSocketServer.CAPTURED);
            assertThat(server.requests()).singleElement().satisfies(request -> {
                assertThat(request.json()).isEqualTo("{\"command\":\"ADD\"}");
                assertThat(request.namespaceTypes()).containsExactly(0x40000000); // CLONE_NEWNET
                assertThat(request.peerUid()).isZero();
            });
            socket.call(server.path(), Duration.ofSeconds(5), "{\"command\":\"DEL\"}".getBytes(), OptionalInt.empty());
            assertThat(server.requests().get(1).namespaceTypes()).isEmpty();
        }
    }

    @Test
    void onlyANetworkNamespaceOpens() throws Exception {
        Path plain = Files.writeString(dir.resolve("plain"), "not a namespace");
        long namespacesOpen = namespacesOpen();
        assertThatThrownBy(() -> socket.openNetwork(plain)).isInstanceOf(ProxyClient.NotANamespace.class)
                .hasMessageContaining("NS_GET_NSTYPE");
        assertThatThrownBy(() -> socket.openNetwork(Path.of("/proc/self/ns/uts")))
                .isInstanceOf(ProxyClient.NotANamespace.class).hasMessageContaining("another type");
        assertThatThrownBy(() -> socket.openNetwork(dir.resolve("gone")))
                .isInstanceOf(IOException.class).isNotInstanceOf(ProxyClient.NotANamespace.class)
                .hasMessageContaining("No such file or directory (errno 2)");
        assertThat(namespacesOpen()).as("no namespace left open").isEqualTo(namespacesOpen);
    }

    /** The network namespaces this JVM holds open (other tests of the run may hold some). */
    private static long namespacesOpen() throws IOException {
        try (var fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.filter(JniControlSocketTest::isNamespace).count();
        }
    }

    @Test
    void eachFailureOfTheExchangeIsToldApart() throws Exception {
        assertThatThrownBy(() -> socket.call(dir.resolve("none.sock"), Duration.ofSeconds(1), new byte[] {1},
                OptionalInt.empty())).isInstanceOf(ProxyClient.Unreachable.class).hasMessageContaining("connect to");
        Path notListening = Files.writeString(dir.resolve("file.sock"), "");
        assertThatThrownBy(() -> socket.call(notListening, Duration.ofSeconds(1), new byte[] {1}, OptionalInt.empty()))
                .isInstanceOf(ProxyClient.Unreachable.class).hasMessageContaining("Connection refused");
        Path tooLong = dir.resolve("x".repeat(120) + ".sock");
        assertThatThrownBy(() -> socket.call(tooLong, Duration.ofSeconds(1), new byte[] {1}, OptionalInt.empty()))
                .isInstanceOf(IOException.class).hasMessageContaining("longer than an AF_UNIX address holds");

        try (ControlSocketServer server = ControlSocketServer.answering(dir.resolve("cni.sock"))) {
            server.reply(null);
            long started = System.nanoTime();
            assertThatThrownBy(() -> socket.call(server.path(), Duration.ofMillis(300), new byte[] {1},
                    OptionalInt.empty())).isInstanceOf(ProxyClient.TimedOut.class).hasMessageContaining("timed out");
            assertThat(Duration.ofNanos(System.nanoTime() - started)).isBetween(Duration.ofMillis(250),
                    Duration.ofSeconds(3));

            server.reply("");
            assertThatThrownBy(() -> socket.call(server.path(), Duration.ofSeconds(5), new byte[] {1},
                    OptionalInt.empty())).hasMessageContaining("closed the connection without a reply");

            server.reply("x".repeat(ControlMessage.MAX_BYTES + 1));
            assertThatThrownBy(() -> socket.call(server.path(), Duration.ofSeconds(5), new byte[] {1},
                    OptionalInt.empty())).hasMessageContaining("reply is larger than " + ControlMessage.MAX_BYTES);

            server.reply("x".repeat(ControlMessage.MAX_BYTES));
            assertThat(socket.call(server.path(), Duration.ofSeconds(5), new byte[] {1}, OptionalInt.empty()))
                    .hasSize(ControlMessage.MAX_BYTES);
        }
    }

    @Test
    void aLibraryThatIsNotThereIsTheInstallsFaultNotThePods() {
        assertThatThrownBy(() -> JniControlSocket.load(null)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(JniControlSocket.LIBRARY_PROPERTY);
        assertThatThrownBy(() -> JniControlSocket.load(dir.resolve("libnodemesh-cni.so").toString()))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot load its native library " + dir.resolve("libnodemesh-cni.so"));
    }

    private static boolean isNamespace(Path fd) {
        try {
            return Files.readSymbolicLink(fd).toString().startsWith("net:[");
        } catch (IOException e) {
            return false; // closed meanwhile (the listing's own descriptor)
        }
    }
}
