package io.nodemesh.bench.harness;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Everything one end-to-end run produced.
 *
 * @param machine where it ran
 * @param options how it ran
 * @param started when it started
 * @param took how long it took, set-up and tear-down included
 * @param subjects one summary per subject, in report order
 * @param rounds every measured wrk run, in the order they ran
 * @param notes observations worth printing (capture proof, CPU pinning, skipped subjects)
 */
public record BenchReport(Machine machine, BenchOptions options, Instant started, Duration took,
                          List<SubjectSummary> subjects, List<RoundResult> rounds, List<String> notes) {

    /** Copies the lists. */
    public BenchReport {
        subjects = List.copyOf(subjects);
        rounds = List.copyOf(rounds);
        notes = List.copyOf(notes);
    }

    /** The summary of the subject with this name, if it ran. */
    public Optional<SubjectSummary> ran(String name) {
        return subjects.stream().filter(s -> s.name().equals(name) && s.ran()).findFirst();
    }
}
