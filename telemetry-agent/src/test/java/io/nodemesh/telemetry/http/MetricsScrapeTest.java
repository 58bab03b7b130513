package io.nodemesh.telemetry.http;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class MetricsScrapeTest {

    private static final String EXPOSITION = """
            # TYPE istio_tcp_connections_closed_total counter
            istio_tcp_connections_closed_total{reporter="source",source_workload="web"} 3.0
            istio_tcp_connections_closed_total{reporter="destination",source_workload="web"} 2.0
            istio_tcp_connections_closed_total_extra{reporter="source"} 100.0
            nodemesh_agent_up 1.0
            """;

    @Test
    void findsSamplesByNameAndLabelsNotByPrefix() {
        assertThat(MetricsScrape.samples(EXPOSITION, "istio_tcp_connections_closed_total")).hasSize(2);
        assertThat(MetricsScrape.sum(EXPOSITION, "istio_tcp_connections_closed_total")).isEqualTo(5.0);
        assertThat(MetricsScrape.value(EXPOSITION, "istio_tcp_connections_closed_total", "reporter=\"source\"")).isEqualTo(3.0);
        assertThat(MetricsScrape.value(EXPOSITION, "nodemesh_agent_up")).isEqualTo(1.0);
        assertThat(MetricsScrape.sum(EXPOSITION, "istio_requests_total")).isZero();
    }

    @Test
    void aValueMustBeOneSample() {
        assertThatThrownBy(() -> MetricsScrape.value(EXPOSITION, "istio_tcp_connections_closed_total"))
                .hasMessageContaining("expected one sample of istio_tcp_connections_closed_total");
    }

    @Test
    void aWildcardAgentIsReachedOnLoopback() {
        assertThat(MetricsScrape.uri(new InetSocketAddress(InetAddress.ofLiteral("0.0.0.0"), 15020)))
                .hasToString("http://127.0.0.1:15020/metrics");
        assertThat(MetricsScrape.uri(new InetSocketAddress(InetAddress.ofLiteral("::"), 15020)))
                .hasToString("http://127.0.0.1:15020/metrics");
        assertThat(MetricsScrape.uri(new InetSocketAddress(InetAddress.ofLiteral("::1"), 9)))
                .hasToString("http://[0:0:0:0:0:0:0:1]:9/metrics");
    }
}
