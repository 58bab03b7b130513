package io.nodemesh.telemetry.agent;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** HTTP GETs against the agent and a look-up of samples in the text exposition. */
final class Scrape {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private Scrape() {
    }

    static HttpResponse<String> get(InetSocketAddress server, String pathAndQuery, String accept)
            throws IOException, InterruptedException {
        HttpRequest.Builder request = HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + server.getPort() + pathAndQuery))
                .timeout(Duration.ofSeconds(10));
        if (accept != null) {
            request.header("Accept", accept);
        }
        return HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    static String metrics(InetSocketAddress server) throws IOException, InterruptedException {
        HttpResponse<String> response = get(server, "/metrics", null);
        if (response.statusCode() != 200) {
            throw new AssertionError("/metrics answered " + response.statusCode() + ": " + response.body());
        }
        return response.body();
    }

    /** Sample lines of {@code name} whose label part contains every one of {@code labels}. */
    static List<String> samples(String exposition, String name, String... labels) {
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

    /** The value of the one sample of {@code name} matching {@code labels}; fails if there is not exactly one. */
    static double value(String exposition, String name, String... labels) {
        List<String> found = samples(exposition, name, labels);
        if (found.size() != 1) {
            throw new AssertionError("expected one sample of " + name + " with " + List.of(labels) + ", found "
                    + found);
        }
        String line = found.get(0);
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
    }
}
