package io.nodemesh.bench.report;

import io.nodemesh.bench.growth.MarkedSection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Rewrites one marked section of a results file ({@link MarkedSection}) atomically: the rest of the file stays
 * byte for byte, and a crash mid-write leaves the old file.
 */
public final class SectionFile {

    private SectionFile() {
    }

    /** Replaces (or appends) section {@code name} of {@code out} with {@code body}. */
    public static void write(Path out, String name, String body) throws IOException {
        Path file = out.toAbsolutePath();
        String existing = Files.exists(file) ? Files.readString(file) : "";
        String updated = MarkedSection.replace(existing, name, body);
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, updated);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
