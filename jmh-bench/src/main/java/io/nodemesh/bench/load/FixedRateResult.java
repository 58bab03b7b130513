package io.nodemesh.bench.load;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * What a {@link FixedRateClient} run measured. {@code latency} is measured from each request's
 * intended send time (corrected for coordinated omission), {@code serviceLatency} from its actual
 * send time; both exclude the warm-up. {@code requests} counts exchanges completed after the
 * warm-up; {@code errors} counts failed exchanges of the whole run (warm-up included), by kind in
 * {@code errorKinds}. {@code histogram} is the corrected histogram, compressed and Base64-encoded
 * ({@link Histograms#decode}).
 */
public record FixedRateResult(String target, int connections, double targetRate, double warmupSeconds,
                              double durationSeconds, long requests, long errors, Map<String, Long> errorKinds,
                              double achievedRate, LatencySummary latency, LatencySummary serviceLatency,
                              String histogram) {

    public FixedRateResult {
        errorKinds = Map.copyOf(errorKinds);
    }

    /** Names the tool in the JSON line so the harness can tell result kinds apart. */
    @JsonProperty("tool")
    public String tool() {
        return "fixed-rate";
    }

    public String toJson() {
        return ResultJson.write(this);
    }

    public static FixedRateResult fromJson(String json) {
        return ResultJson.read(json, FixedRateResult.class);
    }
}
