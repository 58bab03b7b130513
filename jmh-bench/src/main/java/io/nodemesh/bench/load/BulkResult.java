package io.nodemesh.bench.load;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.List;
import java.util.Map;

/**
 * What a {@link BulkClient} run measured: bytes moved after the warm-up and the rate in Gbit/s
 * (10⁹ bits/s), in total (all bytes over the union of the streams' windows) and per stream.
 * A pushing stream's window ends when the sink has read everything (its FIN arrived back), so
 * bytes still queued in socket buffers are not counted as delivered.
 */
public record BulkResult(String target, BulkClient.Direction direction, int streams, double warmupSeconds,
                         double durationSeconds, long bytes, double gbps, List<Double> perStreamGbps,
                         long errors, Map<String, Long> errorKinds) {

    public BulkResult {
        perStreamGbps = List.copyOf(perStreamGbps);
        errorKinds = Map.copyOf(errorKinds);
    }

    @JsonProperty("tool")
    public String tool() {
        return "bulk";
    }

    public String toJson() {
        return ResultJson.write(this);
    }

    public static BulkResult fromJson(String json) {
        return ResultJson.read(json, BulkResult.class);
    }
}
