package io.nodemesh.cni;

import java.nio.file.Path;

/** Placeholder until linux-native's SeqpacketSocket is merged. */
final class ControlSocketServer implements AutoCloseable {
    private final Path path;

    private ControlSocketServer(Path path) {
        this.path = path;
    }

    static ControlSocketServer answering(Path path) {
        return new ControlSocketServer(path);
    }

    Path path() {
        return path;
    }

    @Override
    public void close() {
    }
}
