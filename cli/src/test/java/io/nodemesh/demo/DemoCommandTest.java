package io.nodemesh.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.cli.CommandRun;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Commands;
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
        assertThat(text).contains("outbound  total: 10 closed (OK 10), 640 KiB out, 640 KiB back");
        assertThat(text).contains("inbound   total: 10 closed (OK 10), 640 KiB out, 640 KiB back");
        assertThat(text).contains("the last 8 connections it closed, in the order they closed (newest last)",
                "BYTES OUT  BYTES BACK");
        assertThat(text).containsPattern("outbound  demo/frontend  10\\.77\\.0\\.2:\\d+ +10\\.77\\.0\\.3:8080 +64\\.0 KiB +64\\.0 KiB  OK");
        assertThat(text).doesNotContain("progress  "); // a small run ends before the first progress line
        assertThat(text).contains("10.77.0.3:8080");
        assertThat(text).contains("connections closed as counted by the agent: 20 (proxy: 20)");
        assertThat(text).contains("every series below also has:", "    request_protocol=\"tcp\"",
                "istio_tcp_sent_bytes_total{");
        assertThat(text).contains("service   40 connections frontend -> demo/backend at 10.77.0.100:80",
                "40 of 40 echoed back intact");
        assertThat(text).containsPattern("          demo/backend +[1-9]\\d*\n          demo/backend-2 +[1-9]\\d*\n");
        assertThat(text.lines()).allSatisfy(line -> assertThat(line.length()).as(line).isLessThan(160));
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
