package io.nodemesh.telemetry.http;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads an agent's {@code /metrics} as Prometheus would, and finds samples in the text exposition: for the demo,
 * the benchmarks and the tests (one reader, not one per caller). An agent listening on the wildcard address is
 * reached on loopback.
 */
public final class MetricsScrape {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private MetricsScrape() {
    }

    /** The URL of {@code /metrics} on {@code agent} (loopback in place of a wildcard address). */
    public static URI uri(InetSocketAddress agent) {
        InetAddress ip = agent.getAddress();
        String host = ip == null || ip.isAnyLocalAddress() ? "127.0.0.1"
                : ip.getHostAddress().contains(":") ? "[" + ip.getHostAddress() + "]" : ip.getHostAddress();
        return URI.create("http://" + host + ":" + agent.getPort() + "/metrics");
    }

    /**
     * The text exposition of {@code agent}.
     *
     * @throws IOException if it cannot be read or does not answer 200
     */
    public static String fetch(InetSocketAddress agent) throws IOException, InterruptedException {
        URI uri = uri(agent);
        HttpResponse<String> response = HTTP.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException(uri + " answered " + response.statusCode() + ": " + response.body().strip());
        }
        return response.body();
    }

    /** Sample lines of {@code name} whose label part contains every one of {@code labels} (e.g. {@code reporter="source"}). */
    public static List<String> samples(String exposition, String name, String... labels) {
        List<String> found = new ArrayList<>();
        for (String line : exposition.split("\n")) {
            if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) {
                continue;
            }
            boolean all = true;
            for (String label : labels) {
                all &= line.contains(label);
            }
            if (all) {
                found.add(line);
            }
        }
        return found;
    }

    /** The sum of the samples {@link #samples} finds (0 when there are none). */
    public static double sum(String exposition, String name, String... labels) {
        double total = 0;
        for (String line : samples(exposition, name, labels)) {
            total += sampleValue(line);
        }
        return total;
    }

    /**
     * The value of the one sample of {@code name} matching {@code labels}.
     *
     * @throws IllegalStateException if there is not exactly one
     */
    public static double value(String exposition, String name, String... labels) {
        List<String> found = samples(exposition, name, labels);
        if (found.size() != 1) {
            throw new IllegalStateException("expected one sample of " + name + " with " + List.of(labels) + ", found "
                    + found);
        }
        return sampleValue(found.get(0));
    }

    private static double sampleValue(String line) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }
}
