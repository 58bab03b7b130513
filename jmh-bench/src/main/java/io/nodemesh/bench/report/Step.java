package io.nodemesh.bench.report;

import java.util.Optional;

/**
 * One part of the report. Its body measures and returns the section it owns (written by {@link StepRunner} only
 * when the body returned normally), or empty when the part rewrote its own section (matrix, growth, e2e).
 */
public record Step(String name, Body body) {

    /** The measurement; throwing means the part failed and its section stays as it was. */
    @FunctionalInterface
    public interface Body {
        /** Runs the part. */
        Optional<Section> run() throws Exception;
    }
}
