package io.nodemesh.telemetry.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A counter fed by reporters' running totals: each series grows by what a reporter's total grew since that reporter's
 * previous word on it, and by all of it when the total went down (the reporter restarted under the same id and counts
 * anew). So a total said twice (a new stream repeats it) counts once, a lost batch loses nothing, and the counter never
 * goes backwards. Thread-safe.
 */
final class RunningTotals {

    /** How many reporters' totals are remembered (a node runs one proxy; restarts bring new ids). */
    private static final int MAX_REPORTERS = 64;

    private final Counter counter;
    private final Map<String, Map<String, Long>> byReporter = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Map<String, Long>> eldest) {
            return size() > MAX_REPORTERS;
        }
    };

    RunningTotals(Counter counter) {
        this.counter = counter;
    }

    /** Grows the series {@code labelValues} by what {@code reporter}'s running {@code total} of it adds. */
    void add(String reporter, long total, String... labelValues) {
        long delta;
        synchronized (byReporter) {
            Map<String, Long> last = byReporter.computeIfAbsent(reporter, k -> new HashMap<>());
            Long before = last.put(String.join("\u0000", labelValues), total);
            long previous = before == null ? 0 : before;
            delta = total >= previous ? total - previous : total;
        }
        if (delta > 0) {
            counter.labelValues(labelValues).inc(delta);
        }
    }
}
