package io.nodemesh.testing.cni;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** The output of a running nodemesh-cni-watch, as its tests read it. */
public final class WatcherLog {

    private WatcherLog() {
    }

    /**
     * Waits until {@code watcher} runs no command and {@code log} (its output) has not grown for 1.5 s, at most a
     * minute; fails with the log otherwise.
     */
    public static void awaitQuiet(Path log, ProcessHandle watcher) throws IOException, InterruptedException {
        String before = read(log);
        for (int i = 0; i < 40; i++) {
            Thread.sleep(1500);
            String now = read(log);
            if (now.equals(before) && watcher.children().findAny().isEmpty()) {
                return;
            }
            before = now;
        }
        throw new AssertionError("nodemesh-cni-watch never went quiet; its output:\n" + before);
    }

    private static String read(Path log) throws IOException {
        try {
            return Files.readString(log);
        } catch (NoSuchFileException e) {
            return "";
        }
    }
}
