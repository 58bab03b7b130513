package io.nodemesh.demo;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.cli.NodemeshCommand;
import io.nodemesh.topology.Commands;
import io.nodemesh.testing.NetnsExtension;
import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import picocli.CommandLine;

/** Runs {@code nodemesh demo} the way the README tells a newcomer to, and checks what it shows. */
class DemoCommandTest {

    /** Gates the test on root and namespaces; the demo builds and removes its own topology. */
    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        CommandLine cli = NodemeshCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    @Test
    void demoSendsRealTrafficThroughTheProxyAndShowsTheMetricsThenRemovesEverything() {
        int status = run("demo", "--connections", "10", "--bytes", "65536");

        String text = out.toString();
        assertThat(status).as(text + err).isZero();
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
        assertThat(text.lines()).allSatisfy(line -> assertThat(line.length()).as(line).isLessThan(160));
        assertThat(text).contains("result    OK");
        assertThat(Commands.run("ip", "netns", "list").stdout())
                .doesNotContain("nmdemo" + ProcessHandle.current().pid() + "-");
    }

    @Test
    void badArgumentsAreRefusedBeforeAnythingIsBuilt() {
        assertThat(run("demo", "--connections", "0")).isEqualTo(2);
        assertThat(err.toString()).contains("--connections must be 1..1000");
        assertThat(run("demo", "--transport", "carrier-pigeon")).isEqualTo(2);
        assertThat(err.toString()).contains("--transport must be epoll, io_uring or nio, not 'carrier-pigeon'");
    }
}
