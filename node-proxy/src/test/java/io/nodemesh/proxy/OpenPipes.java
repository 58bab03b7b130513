package io.nodemesh.proxy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The pipes this JVM has open, by identity ({@code pipe:[inode]}): the proxies the tests run in it splice bulk
 * transfers through pipes of their own. Compared as sets, so pipes that other work in the JVM opens or closes meanwhile
 * (a process started and its streams) do not change what a test sees of the proxy's.
 */
final class OpenPipes {

    private OpenPipes() {
    }

    /** The pipes open now. */
    static Set<String> now() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.map(fd -> {
                try {
                    return Files.readSymbolicLink(fd).toString();
                } catch (IOException gone) {
                    return ""; // closed while listed
                }
            }).filter(target -> target.startsWith("pipe:")).collect(Collectors.toSet());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The pipes open now that were not in {@code before}. */
    static Set<String> since(Set<String> before) {
        Set<String> opened = new HashSet<>(now());
        opened.removeAll(before);
        return opened;
    }

    /** Whether none of {@code pipes} is open any more. */
    static boolean allClosed(Set<String> pipes) {
        Set<String> open = now();
        return pipes.stream().noneMatch(open::contains);
    }
}
