package io.nodemesh.cni.install;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Which file of a CNI config dir the container runtime uses, by libcni's rule ({@code libcni.ConfFiles} and the
 * runtimes that call it, containerd's go-cni and CRI-O's ocicni): of the entries that are not directories and whose
 * extension (from the last dot) is exactly {@code .conf}, {@code .conflist} or {@code .json}, the first by byte-wise
 * name order ({@code sort.Strings}). So {@code 05-cilium.conflist} wins over {@code 10-calico.conflist}, and
 * {@code 10-flannel.conf} over {@code 10-flannel.conflist}; our temp files ({@code .x.nodemesh-tmp-…}) and backups
 * are never candidates.
 */
public final class ConfigFiles {

    private static final List<String> EXTENSIONS = List.of(".conf", ".conflist", ".json");

    private ConfigFiles() {
    }

    /** The config files of {@code dir} in the runtime's order; empty when the dir is missing, like libcni. */
    public static List<Path> inOrder(Path dir) throws IOException {
        List<Path> files = new ArrayList<>();
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            for (Path entry : entries) {
                if (isConfigName(entry.getFileName().toString()) && !Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
                    files.add(entry);
                }
            }
        } catch (NoSuchFileException e) {
            return List.of();
        }
        // Go's sort.Strings compares bytes; for the ASCII names CNI configs have, that is String order.
        files.sort((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()));
        return files;
    }

    /** The file the runtime uses, if any. */
    public static Optional<Path> chosen(Path dir) throws IOException {
        List<Path> files = inOrder(dir);
        return files.isEmpty() ? Optional.empty() : Optional.of(files.getFirst());
    }

    /** Whether a file of this name is a config candidate (its extension is .conf, .conflist or .json). */
    public static boolean isConfigName(String fileName) {
        int dot = fileName.lastIndexOf('.');
        return dot >= 0 && EXTENSIONS.contains(fileName.substring(dot));
    }

    /** Whether the runtime reads this file as a conflist by its name (else as a single plugin's config). */
    public static boolean isConflistName(String fileName) {
        return fileName.endsWith(".conflist");
    }
}
