package io.nodemesh.bench.harness;

import io.nodemesh.bench.load.BulkResult;
import io.nodemesh.bench.load.ChurnResult;
import io.nodemesh.bench.load.FixedRateResult;
import java.util.List;
import java.util.function.Function;

/** Reads the one-JSON-line results the load tools print (the last line that starts with '{'). */
final class ToolOutput {

    private ToolOutput() {
    }

    static FixedRateResult fixedRate(String stdout) {
        return parse(stdout, "fixed-rate", FixedRateResult::fromJson);
    }

    static BulkResult bulk(String stdout) {
        return parse(stdout, "bulk", BulkResult::fromJson);
    }

    static ChurnResult churn(String stdout) {
        return parse(stdout, "churn", ChurnResult::fromJson);
    }

    /** The last JSON line of {@code stdout}, which must name {@code tool}; anything else is an error naming what came. */
    private static <T> T parse(String stdout, String tool, Function<String, T> reader) {
        List<String> json = stdout.lines().map(String::strip).filter(l -> l.startsWith("{")).toList();
        if (json.isEmpty()) {
            throw new IllegalStateException("the " + tool + " tool printed no JSON result; its output was: "
                    + abbreviate(stdout));
        }
        String line = json.getLast();
        if (!line.contains("\"tool\":\"" + tool + "\"")) {
            throw new IllegalStateException("expected a " + tool + " result, got: " + abbreviate(line));
        }
        return reader.apply(line);
    }

    private static String abbreviate(String s) {
        String t = s.strip();
        return t.isEmpty() ? "(nothing)" : t.length() > 300 ? t.substring(0, 300) + "…" : t;
    }
}
