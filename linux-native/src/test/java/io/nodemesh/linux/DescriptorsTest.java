package io.nodemesh.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a received descriptor is: a namespace of which type, or not a namespace at all, and its name for messages. */
class DescriptorsTest {

    private static final int ENOTTY = 25;
    private static final int CLONE_NEWUTS = 0x04000000;

    @TempDir
    Path dir;

    @Test
    void aNamespaceFileSaysItsType() throws Exception {
        int net = Descriptors.openReadOnly(Path.of("/proc/self/ns/net"));
        int uts = Descriptors.openReadOnly(Path.of("/proc/self/ns/uts"));
        try {
            assertThat(Descriptors.namespaceType(net)).isEqualTo(Descriptors.CLONE_NEWNET);
            assertThat(Descriptors.namespaceType(uts)).isEqualTo(CLONE_NEWUTS);
            assertThat(Descriptors.describe(net)).startsWith("net:[");
        } finally {
            Descriptors.close(net);
            Descriptors.close(uts);
        }
    }

    @Test
    void aPlainFileIsNotANamespace() throws Exception {
        Path plain = Files.writeString(dir.resolve("plain"), "not a namespace");
        int fd = Descriptors.openReadOnly(plain);
        try {
            assertThatThrownBy(() -> Descriptors.namespaceType(fd))
                    .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(ENOTTY))
                    .hasMessageContaining("fd " + fd + " (" + plain + ") is not a namespace");
        } finally {
            Descriptors.close(fd);
        }
        assertThat(Descriptors.describe(fd)).isEqualTo("fd " + fd + " (closed)");
    }

    @Test
    void aMissingFileIsNamed() {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> Descriptors.openReadOnly(missing))
                .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(NativeException.ENOENT))
                .hasMessageContaining("open " + missing);
    }

    @Test
    void aDuplicateRefersToTheSameFileAndOutlivesTheOriginal() throws Exception {
        int net = Descriptors.openReadOnly(Path.of("/proc/self/ns/net"));
        String name = Descriptors.describe(net);
        int copy = Descriptors.duplicate(net);
        Descriptors.close(net);
        try {
            assertThat(copy).isNotEqualTo(net);
            assertThat(Descriptors.describe(copy)).isEqualTo(name);
            assertThat(Descriptors.namespaceType(copy)).isEqualTo(Descriptors.CLONE_NEWNET);
        } finally {
            Descriptors.close(copy);
        }
    }

    @Test
    void aFileIsNoTcpSocket() throws Exception {
        // TCP sockets, listening or not, are checked where they are made: node-proxy's UpgradeTest.
        Path plain = Files.writeString(dir.resolve("plain"), "not a socket");
        int file = Descriptors.openReadOnly(plain);
        try {
            assertThat(Descriptors.isTcpSocket(file, false)).isFalse();
            assertThat(Descriptors.isTcpSocket(file, true)).isFalse();
        } finally {
            Descriptors.close(file);
        }
        assertThat(Descriptors.isTcpSocket(file, false)).isFalse(); // closed
    }
}
