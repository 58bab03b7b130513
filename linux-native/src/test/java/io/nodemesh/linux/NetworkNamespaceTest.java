package io.nodemesh.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * What needs no root: the thread's own namespace can be entered and left (a no-op move), the
 * thread ends where it began, nesting works, and bad paths and virtual threads are refused.
 * Entering other namespaces is tested with real ones in the test-harness and node-proxy modules.
 */
class NetworkNamespaceTest {

    /** setns needs CAP_SYS_ADMIN even into the thread's own namespace. */
    private static void requireRoot() throws IOException {
        RootOnly.require("setns needs root (CAP_SYS_ADMIN)");
    }

    private static String currentNetns() throws IOException {
        return Files.readSymbolicLink(Path.of("/proc/thread-self/ns/net")).toString();
    }

    @Test
    void callReturnsTheBodysValueAndLeavesTheThreadWhereItWas() throws Exception {
        requireRoot();
        String before = currentNetns();
        try (NetworkNamespace self = NetworkNamespace.current()) {
            for (int i = 0; i < 1000; i++) {
                assertThat(self.call(() -> 42)).isEqualTo(42);
            }
            // Nested: the inner call returns to the outer namespace, the outer one home.
            assertThat(self.call(() -> self.call(NetworkNamespaceTest::currentNetns))).isEqualTo(before);
        }
        assertThat(currentNetns()).isEqualTo(before);
    }

    @Test
    void theBodysExceptionComesThroughAndTheThreadStillGoesHome() throws Exception {
        requireRoot();
        String before = currentNetns();
        try (NetworkNamespace self = NetworkNamespace.current()) {
            assertThatThrownBy(() -> self.call(() -> {
                throw new IOException("boom");
            })).isInstanceOf(IOException.class).hasMessage("boom");
        }
        assertThat(currentNetns()).isEqualTo(before);
    }

    @Test
    void aPathThatDoesNotExistIsNamedInTheError() {
        assertThatThrownBy(() -> NetworkNamespace.open(Path.of("/var/run/netns/no-such-pod")))
                .isInstanceOf(NativeException.class)
                .hasMessageContaining("/var/run/netns/no-such-pod does not exist");
    }

    @Test
    void aFileThatIsNotANamespaceIsRefused() throws Exception {
        Path plain = Files.createTempFile("not-a-netns", "");
        try {
            assertThatThrownBy(() -> NetworkNamespace.open(plain))
                    .isInstanceOf(NativeException.class)
                    .hasMessageContaining("is not a usable network namespace");
        } finally {
            Files.delete(plain);
        }
    }

    @Test
    void virtualThreadsAreRefused() throws Exception {
        try (NetworkNamespace self = NetworkNamespace.current()) {
            CompletableFuture<Throwable> failure = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try {
                    self.call(() -> null);
                    failure.complete(null);
                } catch (Throwable t) {
                    failure.complete(t);
                }
            }).join();
            assertThat(failure.get()).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("needs a platform thread");
        }
    }

    @Test
    void closedNamespacesCannotBeEntered() throws Exception {
        NetworkNamespace self = NetworkNamespace.current();
        self.close();
        assertThatThrownBy(() -> self.call(() -> null)).hasMessageContaining("is closed");
    }

    @Test
    void anAdoptedDescriptorIsEnteredAndOpenedByOtherProcessesThroughItsProcPath() throws Exception {
        requireRoot();
        String name = "nm-adopt-" + ProcessHandle.current().pid();
        run("ip", "netns", "add", name);
        try {
            Path file = Path.of("/var/run/netns", name);
            String expected = "net:[" + Files.getAttribute(file, "unix:ino") + "]";
            int fd = Descriptors.openReadOnly(file);
            try (NetworkNamespace ns = NetworkNamespace.adopt(fd, "netns of pod test/adopt")) {
                assertThat(ns.fd()).isEqualTo(fd);
                assertThat(ns.path()).isEqualTo(Path.of("/proc/" + ProcessHandle.current().pid() + "/fd/" + fd));
                assertThat(ns.call(NetworkNamespaceTest::currentNetns)).isEqualTo(expected);
                // What a forked iptables-restore does: open the path from another process.
                assertThat(run("nsenter", "--net=" + ns.path(), "readlink", "/proc/self/ns/net")).isEqualTo(expected);
            }
            assertThat(Descriptors.describe(fd)).isEqualTo("fd " + fd + " (closed)");
        } finally {
            run("ip", "netns", "del", name);
        }
    }

    @Test
    void adoptRefusesWhatIsNotANetworkNamespaceAndLeavesTheDescriptorToTheCaller() throws Exception {
        Path plain = Files.createTempFile("not-a-netns", "");
        int file = Descriptors.openReadOnly(plain);
        int uts = Descriptors.openReadOnly(Path.of("/proc/self/ns/uts"));
        try {
            assertThatThrownBy(() -> NetworkNamespace.adopt(file, "netns of pod test/plain"))
                    .isInstanceOf(NativeException.class).hasMessageContaining("is not a namespace");
            assertThatThrownBy(() -> NetworkNamespace.adopt(uts, "netns of pod test/uts"))
                    .isInstanceOf(NativeException.class)
                    .hasMessageContaining("netns of pod test/uts")
                    .hasMessageContaining("not a network namespace");
            assertThat(Descriptors.describe(file)).isEqualTo(plain.toString());
            assertThat(Descriptors.describe(uts)).startsWith("uts:[");
        } finally {
            Descriptors.close(file);
            Descriptors.close(uts);
            Files.delete(plain);
        }
    }

    /** Runs a command, fails the test on a non-zero exit, returns its trimmed output. */
    private static String run(String... command) throws Exception {
        Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertThat(process.waitFor()).as(String.join(" ", command) + ": " + output).isZero();
        return output;
    }
}
