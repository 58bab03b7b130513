package io.nodemesh.bench.load;

import com.fasterxml.jackson.annotation.JsonIgnore;
import org.HdrHistogram.Histogram;

/**
 * The percentiles the benchmark reports (Istio's: p50/p90/p99/p999, plus min, max, mean), all in
 * microseconds, taken from an HdrHistogram with 3 significant digits.
 */
public record LatencySummary(long count, long minUs, long p50Us, long p90Us, long p99Us, long p999Us,
                             long maxUs, double meanUs) {

    /** All zero: the summary of an empty histogram. */
    public static final LatencySummary EMPTY = new LatencySummary(0, 0, 0, 0, 0, 0, 0, 0);

    /** Summarises a histogram of microsecond values. */
    public static LatencySummary of(Histogram h) {
        if (h.getTotalCount() == 0) {
            return EMPTY;
        }
        return new LatencySummary(h.getTotalCount(), h.getMinValue(),
                h.getValueAtPercentile(50.0), h.getValueAtPercentile(90.0),
                h.getValueAtPercentile(99.0), h.getValueAtPercentile(99.9),
                h.getMaxValue(), h.getMean());
    }

    /** True when min ≤ p50 ≤ p90 ≤ p99 ≤ p999 ≤ max, which every real summary satisfies. */
    @JsonIgnore // a check, not a field of the JSON form
    public boolean isOrdered() {
        return minUs <= p50Us && p50Us <= p90Us && p90Us <= p99Us && p99Us <= p999Us && p999Us <= maxUs;
    }

    /** One line of JSON. */
    public String toJson() {
        return ResultJson.write(this);
    }

    /** Parses what {@link #toJson()} wrote. */
    public static LatencySummary fromJson(String json) {
        return ResultJson.read(json, LatencySummary.class);
    }
}
