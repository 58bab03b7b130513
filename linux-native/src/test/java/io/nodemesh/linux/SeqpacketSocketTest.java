package io.nodemesh.linux;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.linux.SeqpacketSocket.PeerCredentials;
import io.nodemesh.linux.SeqpacketSocket.Received;
import java.io.IOException;
import java.nio.channels.AsynchronousCloseException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The control socket over real {@code SOCK_SEQPACKET} sockets in a temporary directory: datagrams with descriptors
 * both ways, truncation of data and of descriptors (whose installed descriptors still come back to be closed), end of
 * stream, timeouts, a close that wakes a blocked accept, the peer's credentials (another user's through a child
 * process) and no descriptor left behind.
 */
class SeqpacketSocketTest {

    private static final Path OWN_NETNS = Path.of("/proc/self/ns/net");
    private static final int MAX_BYTES = 64 * 1024;

    @TempDir
    Path dir;

    private Path path;
    private SeqpacketSocket listener;

    @BeforeEach
    void listen() throws IOException {
        path = dir.resolve("cni.sock");
        listener = SeqpacketSocket.listen(path, 16);
    }

    @AfterEach
    void close() {
        listener.close();
        UnixSocketFile.remove(path);
    }

    @Test
    void aRequestCarryingANetworkNamespaceGetsItsReply() throws Exception {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(path))).isEqualTo("rw-------");
        CompletableFuture<String> server = onThread(() -> {
            try (SeqpacketSocket connection = listener.accept()) {
                assertThat(connection.peerCredentials())
                        .isEqualTo(new PeerCredentials((int) ProcessHandle.current().pid(), ownUid(), ownGid()));
                Received request = connection.receive(MAX_BYTES, 1);
                assertThat(request.fds()).hasSize(1);
                try {
                    assertThat(Descriptors.namespaceType(request.fds()[0])).isEqualTo(Descriptors.CLONE_NEWNET);
                    assertThat(Descriptors.describe(request.fds()[0]))
                            .isEqualTo(Files.readSymbolicLink(OWN_NETNS).toString());
                } finally {
                    Descriptors.close(request.fds()[0]);
                }
                connection.send("{\"ok\":true,\"state\":\"captured\"}".getBytes(UTF_8));
                return new String(request.data(), UTF_8);
            }
        });
        int netns = Descriptors.openReadOnly(OWN_NETNS);
        try (SeqpacketSocket client = SeqpacketSocket.connect(path, Duration.ofSeconds(5))) {
            client.send("{\"version\":1,\"command\":\"ADD\"}".getBytes(UTF_8), netns);
            Received reply = client.receive(MAX_BYTES, 0);
            assertThat(new String(reply.data(), UTF_8)).isEqualTo("{\"ok\":true,\"state\":\"captured\"}");
            assertThat(reply.fds()).isEmpty();
            assertThat(reply.truncated()).isFalse();
            assertThat(reply.endOfStream()).isFalse();
            // The server closed after its reply.
            assertThat(client.receive(MAX_BYTES, 0).endOfStream()).isTrue();
        } finally {
            Descriptors.close(netns);
        }
        assertThat(server.get(5, TimeUnit.SECONDS)).isEqualTo("{\"version\":1,\"command\":\"ADD\"}");
    }

    @Test
    void twoDescriptorsInOneMessageBothArrive() throws Exception {
        Received received = exchange(new byte[] {1}, 4, OWN_NETNS, Path.of("/dev/null"));
        try {
            assertThat(received.fds()).hasSize(2);
            assertThat(received.controlTruncated()).isFalse();
            assertThat(Descriptors.namespaceType(received.fds()[0])).isEqualTo(Descriptors.CLONE_NEWNET);
            assertThat(Descriptors.describe(received.fds()[1])).isEqualTo("/dev/null");
            assertThatThrownBy(() -> Descriptors.namespaceType(received.fds()[1]))
                    .isInstanceOf(NativeException.class).hasMessageContaining("is not a namespace");
            // MSG_CMSG_CLOEXEC: a process the proxy starts does not inherit them.
            for (int fd : received.fds()) {
                assertThat(fdFlags(fd) & Libc.O_CLOEXEC).as("O_CLOEXEC on fd " + fd).isNotZero();
            }
        } finally {
            closeAll(received);
        }
    }

    @Test
    void aDatagramLongerThanMaxBytesIsTruncated() throws Exception {
        Received longer = exchange(new byte[100], 0);
        assertThat(longer.truncated()).isTrue();
        assertThat(longer.data()).hasSize(10);
        // One byte over fits the buffer without MSG_TRUNC, and is still too long.
        assertThat(exchange(new byte[11], 0).truncated()).isTrue();
        Received exact = exchange(new byte[10], 0);
        assertThat(exact.truncated()).isFalse();
        assertThat(exact.data()).hasSize(10);
    }

    @Test
    void moreDescriptorsThanMaxFdsTruncatesControlAndReturnsTheInstalledOnes() throws Exception {
        Received received = exchange(new byte[] {1}, 1, OWN_NETNS, OWN_NETNS, OWN_NETNS);
        try {
            assertThat(received.controlTruncated()).isTrue();
            assertThat(received.fds()).hasSize(1);
            assertThat(Descriptors.namespaceType(received.fds()[0])).isEqualTo(Descriptors.CLONE_NEWNET);
        } finally {
            closeAll(received);
        }
        Received noRoom = exchange(new byte[] {1}, 0, OWN_NETNS);
        assertThat(noRoom.controlTruncated()).isTrue();
        assertThat(noRoom.fds()).isEmpty();
    }

    @Test
    void aPeerThatClosesIsTheEndOfTheStream() throws Exception {
        CompletableFuture<Received> server = onThread(() -> {
            try (SeqpacketSocket connection = listener.accept()) {
                return connection.receive(MAX_BYTES, 1);
            }
        });
        SeqpacketSocket.connect(path).close();
        Received end = server.get(5, TimeUnit.SECONDS);
        assertThat(end.endOfStream()).isTrue();
        assertThat(end.data()).isEmpty();
        assertThat(end.fds()).isEmpty();
    }

    @Test
    void aReceiveThatTimesOutSaysSo() throws Exception {
        try (SeqpacketSocket client = SeqpacketSocket.connect(path);
                SeqpacketSocket connection = listener.accept()) {
            connection.timeouts(Duration.ofMillis(200));
            long start = System.nanoTime();
            assertThatThrownBy(() -> connection.receive(MAX_BYTES, 1))
                    .isInstanceOfSatisfying(NativeException.class,
                            e -> assertThat(e.errno()).isEqualTo(NativeException.EAGAIN))
                    .hasMessageContaining("timed out after PT0.2S");
            assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(150), Duration.ofSeconds(5));
        }
    }

    @Test
    void closeWakesABlockedAcceptWithinASecond() throws Exception {
        CompletableFuture<SeqpacketSocket> accepting = onThread(listener::accept);
        Thread.sleep(200); // into the kernel's accept
        long start = System.nanoTime();
        listener.close();
        assertThatThrownBy(() -> accepting.get(1, TimeUnit.SECONDS))
                .isInstanceOf(ExecutionException.class).cause().isInstanceOf(AsynchronousCloseException.class);
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(Duration.ofSeconds(1));
        assertThatThrownBy(listener::accept).isInstanceOf(IOException.class).hasMessageContaining("is closed");
        listener.close(); // again: nothing happens
    }

    @Test
    void anAcceptThatTimesOutSaysSo() throws Exception {
        listener.timeouts(Duration.ofMillis(100));
        long start = System.nanoTime();
        assertThatThrownBy(listener::accept)
                .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(NativeException.EAGAIN))
                .hasMessageContaining("accept on").hasMessageContaining("timed out after PT0.1S");
        assertThat(Duration.ofNanos(System.nanoTime() - start)).isBetween(Duration.ofMillis(80), Duration.ofSeconds(5));
    }

    /**
     * The CNI control socket's handover (docs/upgrade.md): the listener passed over {@code SCM_RIGHTS} to a second
     * owner, the first one's accept woken by its receive timeout and its descriptor closed without {@code shutdown}:
     * the second owner accepts the next connection on the same socket file.
     */
    @Test
    void aListenerPassedOnListensOnAfterTheFirstOwnerLetsGo() throws Exception {
        listener.timeouts(Duration.ofMillis(100));
        CompletableFuture<Integer> firstOwner = onThread(() -> {
            int timedOut = 0;
            while (timedOut < 3) {
                try {
                    listener.accept().close();
                } catch (NativeException e) {
                    assertThat(e.errno()).isEqualTo(NativeException.EAGAIN);
                    timedOut++;
                }
            }
            return timedOut;
        });
        try (SeqpacketSocket adopted = passOn(listener)) {
            assertThat(firstOwner.get(5, TimeUnit.SECONDS)).isEqualTo(3); // out of the kernel: nothing to wake
            listener.close(); // no call in flight: close(2) only
            try (SeqpacketSocket client = SeqpacketSocket.connect(path, Duration.ofSeconds(5));
                    SeqpacketSocket connection = adopted.accept()) {
                client.send("{\"command\":\"DEL\"}".getBytes(UTF_8));
                assertThat(new String(connection.receive(MAX_BYTES, 0).data(), UTF_8)).isEqualTo("{\"command\":\"DEL\"}");
            }
        }
    }

    /** Why a first owner must not close with a call in flight: its {@code shutdown} stops the socket for both. */
    @Test
    void aShutdownByOneOwnerStopsTheListenerForTheOther() throws Exception {
        try (SeqpacketSocket adopted = passOn(listener)) {
            CompletableFuture<SeqpacketSocket> accepting = onThread(listener::accept);
            Thread.sleep(200); // into the kernel's accept
            listener.close(); // a call in flight: shutdown, then close
            assertThatThrownBy(() -> accepting.get(1, TimeUnit.SECONDS)).cause()
                    .isInstanceOf(AsynchronousCloseException.class);
            assertThatThrownBy(() -> SeqpacketSocket.connect(path, Duration.ofSeconds(1)))
                    .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(111));
            adopted.timeouts(Duration.ofMillis(200));
            assertThatThrownBy(adopted::accept).isInstanceOf(NativeException.class); // EINVAL: shut down
        }
    }

    @Test
    void adoptRefusesAndClosesADescriptorThatIsNoSeqpacketListener() throws Exception {
        int file = Descriptors.openReadOnly(OWN_NETNS);
        assertThatThrownBy(() -> SeqpacketSocket.adopt(file, "inherited")).isInstanceOf(IOException.class)
                .hasMessageContaining("not a listening AF_UNIX SOCK_SEQPACKET socket");
        assertThat(Descriptors.describe(file)).endsWith("(closed)");
        try (SeqpacketSocket client = SeqpacketSocket.connect(path); SeqpacketSocket connection = listener.accept()) {
            int connected = connection.duplicate();
            assertThatThrownBy(() -> SeqpacketSocket.adopt(connected, "inherited")).isInstanceOf(IOException.class);
        }
    }

    /** {@code socket}'s duplicate sent with {@code SCM_RIGHTS} over a second socket, received and adopted. */
    private SeqpacketSocket passOn(SeqpacketSocket socket) throws Exception {
        Path handover = dir.resolve("handover.sock");
        try (SeqpacketSocket handoverListener = SeqpacketSocket.listen(handover, 1);
                SeqpacketSocket sender = SeqpacketSocket.connect(handover);
                SeqpacketSocket receiver = handoverListener.accept()) {
            int copy = socket.duplicate();
            try {
                sender.send("{\"type\":\"control_socket\"}".getBytes(UTF_8), copy);
            } finally {
                Descriptors.close(copy);
            }
            Received received = receiver.receive(MAX_BYTES, 2);
            assertThat(received.fds()).hasSize(1);
            return SeqpacketSocket.adopt(received.fds()[0], "adopted " + path);
        } finally {
            UnixSocketFile.remove(handover);
        }
    }

    @Test
    void closeWakesABlockedReceiveAsTheEndOfTheStream() throws Exception {
        try (SeqpacketSocket client = SeqpacketSocket.connect(path);
                SeqpacketSocket connection = listener.accept()) {
            CompletableFuture<Received> receiving = onThread(() -> connection.receive(MAX_BYTES, 1));
            Thread.sleep(200);
            connection.close();
            assertThat(receiving.get(1, TimeUnit.SECONDS).endOfStream()).isTrue();
            // The client sees its peer go.
            assertThat(client.receive(MAX_BYTES, 1).endOfStream()).isTrue();
        }
    }

    @Test
    void aConnectToNothingNamesThePath() {
        assertThatThrownBy(() -> SeqpacketSocket.connect(dir.resolve("nobody.sock")))
                .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(NativeException.ENOENT))
                .hasMessageContaining("nobody.sock");
        assertThatThrownBy(() -> SeqpacketSocket.listen(path, 1))
                .isInstanceOf(NativeException.class).hasMessageContaining("bind to " + path);
    }

    @Test
    void prepareKeepsALiveListenersSocketAndReplacesAStaleOne() throws Exception {
        assertThatThrownBy(() -> UnixSocketFile.prepare(path, "another proxy listens on " + path))
                .isInstanceOf(IOException.class).hasMessage("another proxy listens on " + path);
        listener.close();
        UnixSocketFile.prepare(path, "another proxy listens on " + path);
        assertThat(path).doesNotExist();
    }

    @Test
    void theCredentialsAreThoseOfTheConnectingUser() throws Exception {
        RootOnly.require("a client running as another user (uid 65534) needs root to start");
        // The test's own doing: the directory and socket open to that user (the proxy's socket stays 0600).
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw-rw-"));
        // /usr/bin/python3, not the PATH's: a shim under /root is out of that user's reach.
        Process nobody = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "/usr/bin/python3", "-c", """
                import socket, sys
                s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                s.connect(sys.argv[1])
                s.send(b"x")
                s.recv(16)
                """, path.toString()).redirectErrorStream(true).start();
        try (SeqpacketSocket connection = listener.accept()) {
            assertThat(connection.receive(16, 0).data()).containsExactly((byte) 'x');
            assertThat(connection.peerCredentials())
                    .isEqualTo(new PeerCredentials((int) nobody.pid(), 65534, 65534));
            connection.send(new byte[] {1});
        } finally {
            assertThat(nobody.waitFor(5, TimeUnit.SECONDS)).isTrue();
            assertThat(nobody.exitValue()).as(new String(nobody.getInputStream().readAllBytes(), UTF_8)).isZero();
        }
    }

    @Test
    void receivingAndClosingDescriptorsLeavesNoneBehind() throws Exception {
        exchange(new byte[] {1}, 4, OWN_NETNS, OWN_NETNS); // warm up: classes, the arenas' first descriptors
        long before = openDescriptors();
        for (int i = 0; i < 50; i++) {
            closeAll(exchange(new byte[] {1}, 4, OWN_NETNS, Path.of("/dev/null")));
            closeAll(exchange(new byte[] {1}, 1, OWN_NETNS, OWN_NETNS, OWN_NETNS));
        }
        assertThat(openDescriptors()).isEqualTo(before);
    }

    /** Sends {@code message} with the files at {@code paths} opened, and receives it with room for 10 bytes. */
    private Received exchange(byte[] message, int maxFds, Path... paths) throws Exception {
        int[] fds = new int[paths.length];
        try (SeqpacketSocket client = SeqpacketSocket.connect(path);
                SeqpacketSocket connection = listener.accept()) {
            for (int i = 0; i < paths.length; i++) {
                fds[i] = Descriptors.openReadOnly(paths[i]);
            }
            client.send(message, fds);
            return connection.receive(10, maxFds);
        } finally {
            for (int fd : fds) {
                if (fd > 0) {
                    Descriptors.close(fd);
                }
            }
        }
    }

    private static void closeAll(Received received) {
        for (int fd : received.fds()) {
            Descriptors.close(fd);
        }
    }

    private static <T> CompletableFuture<T> onThread(Callable<T> body) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread.ofPlatform().daemon().name("seqpacket-test").start(() -> {
            try {
                result.complete(body.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }

    private static long openDescriptors() throws IOException {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        }
    }

    /** The open flags of {@code fd}, from the octal {@code flags:} line of its fdinfo. */
    private static int fdFlags(int fd) throws IOException {
        return Files.readString(Path.of("/proc/self/fdinfo/" + fd)).lines().filter(l -> l.startsWith("flags:"))
                .map(l -> Integer.parseInt(l.substring("flags:".length()).trim(), 8)).findFirst().orElseThrow();
    }

    private static int ownUid() throws IOException {
        return statusField("Uid:");
    }

    private static int ownGid() throws IOException {
        return statusField("Gid:");
    }

    private static int statusField(String prefix) throws IOException {
        return Files.readString(Path.of("/proc/self/status")).lines().filter(l -> l.startsWith(prefix))
                .map(l -> Integer.parseInt(l.split("\\s+")[1])).findFirst().orElseThrow();
    }
}
