package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.config.HostPort;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** The tools' command lines: one JSON line on stdout that parses back; usage errors exit 2 with no output. */
class LoadCliTest {

    private record Run(int exitCode, String stdout, String stderr) {
    }

    private static Run run(LoadCli.Tool tool, String... args) {
        PrintStream originalOut = System.out;
        PrintStream originalErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int code = LoadCli.run(tool, args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(originalOut);
            System.setErr(originalErr);
        }
    }

    @Test
    void fixedRatePrintsOneParseableJsonLine() throws Exception {
        try (LoadServer server = LoadServer.start(LoadServer.Config.rr(new InetSocketAddress("127.0.0.1", 0)))) {
            Run r = run(new FixedRateClient.Cli(), "--target", HostPort.format(server.localAddress()),
                    "--connections", "2", "--rate", "200", "--duration", "300ms", "--warmup", "0s");

            assertThat(r.exitCode()).isZero();
            assertThat(r.stdout().strip().lines()).hasSize(1);
            assertThat(r.stdout()).contains("\"tool\":\"fixed-rate\"");
            FixedRateResult result = FixedRateResult.fromJson(r.stdout());
            assertThat(result.requests()).isPositive();
            assertThat(result.connections()).isEqualTo(2);
            assertThat(r.stderr().lines()).containsExactly(MeasuredWindow.OPENS, MeasuredWindow.CLOSES);
        }
    }

    @Test
    void churnAndBulkPrintParseableJson() throws Exception {
        try (LoadServer rr = LoadServer.start(LoadServer.Config.rr(new InetSocketAddress("127.0.0.1", 0)));
             LoadServer sink = LoadServer.start(LoadServer.Config.rr(new InetSocketAddress("127.0.0.1", 0)).withMode(ServerMode.SINK))) {
            Run churn = run(new ChurnClient.Cli(), "--target", HostPort.format(rr.localAddress()),
                    "--threads", "1", "--duration", "200ms", "--warmup", "0", "--close", "reset");
            Run bulk = run(new BulkClient.Cli(), "--target", HostPort.format(sink.localAddress()),
                    "--streams", "1", "--duration", "200ms", "--warmup", "0");

            assertThat(churn.exitCode()).isZero();
            // The harness counts CPU between these two lines, so both tools must print them, in this order.
            assertThat(churn.stderr().lines()).containsExactly(MeasuredWindow.OPENS, MeasuredWindow.CLOSES);
            assertThat(bulk.stderr().lines()).containsExactly(MeasuredWindow.OPENS, MeasuredWindow.CLOSES);
            assertThat(ChurnResult.fromJson(churn.stdout()).closeMode()).isEqualTo(CloseMode.RESET);
            assertThat(bulk.exitCode()).isZero();
            assertThat(BulkResult.fromJson(bulk.stdout()).streams()).isEqualTo(1);
        }
    }

    @Test
    void badArgumentsExitWithUsageErrorAndNoJson() {
        Run missingTarget = run(new FixedRateClient.Cli(), "--rate", "1000");
        Run badAddress = run(new ChurnClient.Cli(), "--target", "localhost");
        Run badConfig = run(new FixedRateClient.Cli(), "--target", "127.0.0.1:9", "--connections", "0");

        assertThat(missingTarget.exitCode()).isEqualTo(2);
        assertThat(badAddress.exitCode()).isEqualTo(2);
        assertThat(badConfig.exitCode()).isEqualTo(1);
        assertThat(missingTarget.stdout() + badAddress.stdout() + badConfig.stdout()).isEmpty();
        assertThat(badConfig.stderr()).doesNotContain(MeasuredWindow.OPENS); // a run that never started has no window
    }
}
