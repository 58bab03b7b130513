package io.nodemesh.bench.growth;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads what {@code /proc/<pid>} says about a process's sockets and private memory. */
final class ProcFds {

    private ProcFds() {
    }

    /** Open socket descriptors of {@code pid}; descriptors closed while reading are skipped. */
    static int sockets(long pid) throws IOException {
        int n = 0;
        try (DirectoryStream<Path> fds = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "fd"))) {
            for (Path fd : fds) {
                try {
                    if (isSocket(Files.readSymbolicLink(fd).toString())) {
                        n++;
                    }
                } catch (IOException e) {
                    // The descriptor was closed between listing and reading it: not open any more.
                }
            }
        }
        return n;
    }

    /**
     * {@code RssAnon} of {@code pid} in KiB: resident anonymous memory, i.e. the process's own (heap,
     * metaspace, malloc, stacks), without the shared libraries and class-data archive in {@code RssFile}.
     */
    static long rssAnonKb(long pid) throws IOException {
        return statusKb(Files.readString(Path.of("/proc", Long.toString(pid), "status")), "RssAnon");
    }

    /** The value of a {@code Key:   1234 kB} line of {@code /proc/<pid>/status}. */
    static long statusKb(String status, String key) {
        for (String line : status.split("\n")) {
            if (line.startsWith(key + ":")) {
                String[] parts = line.substring(key.length() + 1).trim().split("\\s+");
                if (parts.length != 2 || !parts[1].equals("kB")) {
                    throw new IllegalArgumentException("unexpected " + key + " line: " + line);
                }
                return Long.parseLong(parts[0]);
            }
        }
        throw new IllegalArgumentException("/proc/<pid>/status has no " + key + " line");
    }

    /** Whether a {@code /proc/<pid>/fd} link target names a socket. */
    static boolean isSocket(String linkTarget) {
        return linkTarget.startsWith("socket:[") && linkTarget.endsWith("]");
    }
}
