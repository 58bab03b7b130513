package io.nodemesh.telemetry.agent;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.telemetry.http.MetricsScrape;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/**
 * HTTP GETs against the agent with a chosen {@code Accept} header (content negotiation), and waiting for a value in the
 * scrape; samples: {@code MetricsScrape}.
 */
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

    /** Waits up to 10 s for the sum of {@code name}'s samples with {@code label} to be {@code value}. */
    static void awaitValue(TelemetryAgent agent, String name, double value, String label) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (MetricsScrape.sum(MetricsScrape.fetch(agent.metricsAddress()), name, label) != value) {
            assertThat(System.nanoTime()).as("waiting for " + name + " " + label + " = " + value).isLessThan(deadline);
            Thread.sleep(20);
        }
    }
}
