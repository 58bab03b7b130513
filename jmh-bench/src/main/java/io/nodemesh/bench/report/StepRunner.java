package io.nodemesh.bench.report;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/** Runs the report's steps in order: a failing step is reported and skipped, the others still run. */
public final class StepRunner {

    private StepRunner() {
    }

    /** Runs every step, writing each returned section into {@code out}; 0 when all succeeded, 1 otherwise. */
    public static int run(List<Step> steps, Path out, PrintStream log) {
        List<String> failed = new ArrayList<>();
        List<String> done = new ArrayList<>();
        for (Step step : steps) {
            long start = System.nanoTime();
            log.println("== bench-report: " + step.name() + " ==");
            try {
                Optional<Section> section = step.body().run();
                // Only now, after the whole part succeeded: a failed part never leaves half a section.
                if (section.isPresent()) {
                    SectionFile.write(out, section.get().name(), section.get().markdown());
                    log.println("bench-report: wrote section " + section.get().name() + " of " + out);
                }
                done.add(step.name() + " (" + seconds(start) + " s)");
            } catch (Exception | LinkageError | AssertionError e) {
                failed.add(step.name() + " (" + seconds(start) + " s): " + e);
                log.println("bench-report: " + step.name() + " FAILED, its section is left as it was: " + e);
                e.printStackTrace(log);
            }
        }
        log.println("bench-report: done: " + (done.isEmpty() ? "nothing" : String.join(", ", done)));
        if (!failed.isEmpty()) {
            log.println("bench-report: FAILED: " + String.join("; ", failed));
            return 1;
        }
        return 0;
    }

    private static long seconds(long startNanos) {
        return Duration.ofNanos(System.nanoTime() - startNanos).toSeconds();
    }
}
