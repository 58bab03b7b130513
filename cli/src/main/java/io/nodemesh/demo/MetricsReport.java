package io.nodemesh.demo;

import io.nodemesh.telemetry.agent.TelemetryAgent;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;

/** Scrapes the agent's {@code /metrics} the way Prometheus would and prints the demo's Istio series. */
final class MetricsReport {

    private MetricsReport() {
    }

    /** Waits (up to {@code limit}) until the agent has counted {@code closedConnections}, then prints the series. */
    static void print(PrintWriter out, TelemetryAgent agent, long closedConnections, Duration limit)
            throws IOException, InterruptedException {
        URI uri = URI.create("http://" + DemoCommand.hostPort(agent.metricsAddress()) + "/metrics");
        long deadline = System.nanoTime() + limit.toNanos();
        List<String> lines;
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            do {
                String body = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(2)).build(),
                        HttpResponse.BodyHandlers.ofString()).body();
                lines = body.lines().filter(l -> l.startsWith("istio_tcp_")).toList();
                if (sum(lines, "istio_tcp_connections_closed_total") >= closedConnections) {
                    break;
                }
                Thread.sleep(100);
            } while (System.nanoTime() < deadline);
        }
        out.printf("metrics   from the agent (%s), Istio's names and labels:%n", uri);
        for (String line : lines) {
            out.println("  " + shorten(line));
        }
        out.printf("          connections closed as counted by the agent: %d (proxy: %d)%n",
                sum(lines, "istio_tcp_connections_closed_total"), closedConnections);
    }

    private static long sum(List<String> lines, String metric) {
        double total = 0;
        for (String line : lines) {
            if (line.startsWith(metric + "{") || line.startsWith(metric + " ")) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return (long) total;
    }

    /** Drops the labels that only say "unknown" or "-", to keep a line readable in a terminal. */
    private static String shorten(String line) {
        return line.replaceAll(",?[a-z_]+=\"(unknown|-)\"", "").replace("{,", "{");
    }
}
