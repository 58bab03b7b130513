package io.nodemesh.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.cli.CommandRun;
import io.nodemesh.topology.Commands;
import io.nodemesh.testing.NetnsExtension;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** Runs {@code nodemesh demo} the way the README tells a newcomer to, and checks what it shows. */
class DemoCommandTest {

    /** Gates the test on root and namespaces; the demo builds and removes its own topology. */
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private final CommandRun cli = new CommandRun();

    @Test
    void demoSendsRealTrafficThroughTheProxyAndShowsTheMetricsThenRemovesEverything() {
        int status = cli.nodemesh("demo", "--connections", "10", "--bytes", "65536");

        String text = cli.out();
        assertThat(status).as(text + cli.err()).isZero();
        assertThat(text).contains("10 of 10 echoed back intact");
        // Both pods captured: 10 outbound on the frontend, 10 inbound on the backend.
        assertThat(text).contains("outbound  total: 10 connections closed {OK=10}, 640 KiB forwarded from sources, 640 KiB back");
        assertThat(text).contains("inbound   total: 10 connections closed {OK=10}");
        assertThat(text).contains("10.77.0.3:8080");
        assertThat(text).contains("connections closed as counted by the agent: 20 (proxy: 20)");
        assertThat(text).contains("istio_tcp_sent_bytes_total{");
        assertThat(text).contains("result    OK");
        assertThat(Commands.run("ip", "netns", "list").stdout())
                .doesNotContain("nmdemo" + ProcessHandle.current().pid() + "-");
    }

    @Test
    void badArgumentsAreRefusedBeforeAnythingIsBuilt() {
        assertThat(cli.nodemesh("demo", "--connections", "0")).isEqualTo(2);
        assertThat(cli.err()).contains("--connections must be 1..1000");
        assertThat(cli.nodemesh("demo", "--transport", "carrier-pigeon")).isEqualTo(2);
        assertThat(cli.err()).contains("--transport must be epoll, io_uring or nio, not 'carrier-pigeon'");
    }
}
