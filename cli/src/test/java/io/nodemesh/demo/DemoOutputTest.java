package io.nodemesh.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The demo's text that needs no namespaces: progress lines and the Istio series as a terminal shows them. */
class DemoOutputTest {

    @Test
    void aLongRunPrintsProgressAndAShortOneNothing() throws Exception {
        StringWriter text = new StringWriter();
        try (Progress progress = new Progress(4).printEvery(new PrintWriter(text), Duration.ofMillis(50))) {
            progress.sent(3 * 1024 * 1024);
            progress.received(1024 * 1024);
            progress.connectionDone();
            progress.connectionDone();
            Thread.sleep(180);
        }
        assertThat(text.toString()).contains("progress  2 of 4 connections done, 4.0 MiB moved (3.0 MiB out, 1.0 MiB back), ")
                .containsPattern("MiB/s\\n");

        StringWriter quiet = new StringWriter();
        try (Progress progress = new Progress(4).printEvery(new PrintWriter(quiet), Duration.ofSeconds(5))) {
            progress.connectionDone();
        }
        assertThat(quiet.toString()).isEmpty();
    }

    @Test
    void istioSeriesShowTheSharedLabelsOnceAndOnlyTheVaryingOnesPerLine() {
        String shared = "source_workload=\"frontend\",source_workload_namespace=\"demo\",destination_service=\"unknown\","
                + "request_protocol=\"tcp\",response_flags=\"-\"";
        List<String> lines = MetricsReport.readable(List.of(
                "istio_tcp_sent_bytes_total{reporter=\"source\"," + shared + "} 655360.0",
                "istio_tcp_sent_bytes_total{reporter=\"destination\"," + shared + "} 655360.0",
                "istio_tcp_connections_closed_total{reporter=\"source\"," + shared + "} 10.0"));

        assertThat(lines).containsExactly(
                "every series below also has:",
                "    source_workload=\"frontend\"",
                "    source_workload_namespace=\"demo\"",
                "    destination_service=\"unknown\"",
                "    request_protocol=\"tcp\"",
                "    response_flags=\"-\"",
                "istio_tcp_sent_bytes_total{reporter=\"source\"} 655360.0",
                "istio_tcp_sent_bytes_total{reporter=\"destination\"} 655360.0",
                "istio_tcp_connections_closed_total{reporter=\"source\"} 10.0");
    }
}
