package io.nodemesh.bench.load;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * What a {@link ChurnClient} run measured: {@code connections} completed (connect, one request and
 * response, close) that began after the warm-up, their rate, and the connect+request+response
 * latency (µs). {@code errors} counts failed connections of the whole run, by kind in {@code errorKinds}.
 */
public record ChurnResult(String target, int threads, CloseMode closeMode, double warmupSeconds,
                          double durationSeconds, long connections, long errors, Map<String, Long> errorKinds,
                          double connectionsPerSecond, LatencySummary latency) {

    public ChurnResult {
        errorKinds = Map.copyOf(errorKinds);
    }

    @JsonProperty("tool")
    public String tool() {
        return "churn";
    }

    public String toJson() {
        return ResultJson.write(this);
    }

    public static ChurnResult fromJson(String json) {
        return ResultJson.read(json, ChurnResult.class);
    }
}
