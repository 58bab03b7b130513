package io.nodemesh.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Two paths swapped in one step: directories with their contents, a directory with a file, and a missing path. */
class RenamesTest {

    private static final int ENOENT = 2;

    @TempDir
    Path dir;

    @Test
    void twoDirectoriesSwapWithTheirContents() throws Exception {
        Path installed = Files.createDirectory(dir.resolve("plugin.d"));
        Files.writeString(installed.resolve("version"), "old");
        Path fresh = Files.createDirectory(dir.resolve("plugin.d.tmp"));
        Files.writeString(fresh.resolve("version"), "new");
        Files.writeString(fresh.resolve("added"), "only in the new one");

        Renames.exchange(fresh, installed);

        assertThat(Files.readString(installed.resolve("version"))).isEqualTo("new");
        assertThat(installed.resolve("added")).exists();
        assertThat(Files.readString(fresh.resolve("version"))).isEqualTo("old");
        assertThat(fresh.resolve("added")).doesNotExist();
    }

    @Test
    void aDirectoryAndAFileSwap() throws Exception {
        Path d = Files.createDirectory(dir.resolve("d"));
        Path f = Files.writeString(dir.resolve("f"), "file");
        Renames.exchange(d, f);
        assertThat(Files.readString(d)).isEqualTo("file");
        assertThat(f).isDirectory();
    }

    @Test
    void aMissingPathIsRefusedAndTheOtherLeftAlone() throws Exception {
        Path there = Files.writeString(dir.resolve("there"), "kept");
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> Renames.exchange(missing, there))
                .isInstanceOfSatisfying(NativeException.class, e -> assertThat(e.errno()).isEqualTo(ENOENT))
                .hasMessageContaining(missing.toString()).hasMessageContaining(there.toString());
        assertThat(Files.readString(there)).isEqualTo("kept");
        assertThat(missing).doesNotExist();
    }
}
