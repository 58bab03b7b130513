package io.nodemesh.demo;

import io.nodemesh.telemetry.agent.TelemetryAgent;
import io.nodemesh.telemetry.http.MetricsScrape;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Scrapes the agent's {@code /metrics} the way Prometheus would and prints the demo's Istio series. */
final class MetricsReport {

    private MetricsReport() {
    }

    /** Waits (up to {@code limit}) until the agent has counted {@code closedConnections}, then prints the series. */
    static void print(PrintWriter out, TelemetryAgent agent, long closedConnections, Duration limit)
            throws IOException, InterruptedException {
        URI uri = MetricsScrape.uri(agent.metricsAddress());
        long deadline = System.nanoTime() + limit.toNanos();
        String exposition;
        long closed;
        do {
            exposition = MetricsScrape.fetch(agent.metricsAddress());
            closed = (long) MetricsScrape.sum(exposition, "istio_tcp_connections_closed_total");
            if (closed >= closedConnections) {
                break;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        out.printf("metrics   from the agent (%s), Istio's names and labels; the full series: curl -s %s%n", uri, uri);
        readable(exposition.lines().filter(l -> l.startsWith("istio_tcp_")).toList())
                .forEach(line -> out.println("  " + line));
        out.printf("          connections closed as counted by the agent: %d (proxy: %d)%n", closed, closedConnections);
    }

    private static final Pattern SAMPLE = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)\\{(.*)} (\\S+)$");
    private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");

    /**
     * The series as a terminal shows them: first the labels every series shares (wrapped, one per line), then each
     * series with only the labels that differ between them. A full Istio series is up to ~400 characters wide.
     */
    static List<String> readable(List<String> series) {
        List<Map<String, String>> labels = new ArrayList<>();
        List<String[]> samples = new ArrayList<>();
        for (String line : series) {
            Matcher m = SAMPLE.matcher(line);
            if (!m.matches()) {
                continue;
            }
            Map<String, String> set = new LinkedHashMap<>();
            Matcher l = LABEL.matcher(m.group(2));
            while (l.find()) {
                set.put(l.group(1), l.group(2));
            }
            labels.add(set);
            samples.add(new String[] {m.group(1), m.group(3)});
        }
        Map<String, String> common = labels.isEmpty() ? Map.of() : new LinkedHashMap<>(labels.getFirst());
        for (Map<String, String> set : labels) {
            common.entrySet().removeIf(e -> !e.getValue().equals(set.get(e.getKey())));
        }
        List<String> out = new ArrayList<>();
        if (!common.isEmpty()) {
            out.add("every series below also has:");
            common.forEach((k, v) -> out.add("    " + k + "=\"" + v + "\""));
        }
        for (int i = 0; i < samples.size(); i++) {
            StringBuilder varying = new StringBuilder();
            labels.get(i).forEach((k, v) -> {
                if (!common.containsKey(k)) {
                    varying.append(varying.isEmpty() ? "" : ",").append(k).append("=\"").append(v).append('"');
                }
            });
            out.add(samples.get(i)[0] + (varying.isEmpty() ? "" : "{" + varying + "}") + " " + samples.get(i)[1]);
        }
        return out;
    }
}
