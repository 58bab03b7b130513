package io.nodemesh.bench.harness;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reads outputs captured from real runs (wrk, iptables-save, /proc), kept as test resources. */
final class Captured {

    private Captured() {
    }

    static String read(String name) {
        try {
            return Files.readString(Path.of(Captured.class.getResource(name).toURI()));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("missing test resource " + name, e);
        }
    }
}
