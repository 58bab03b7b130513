package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.linux.Scheduling;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code nodemesh agent} as an operator runs it: a process that serves until SIGTERM. */
final class AgentCommandTest {

    @TempDir
    Path dir;

    /** Entry point for the child JVM (the integrator's NodemeshCommand is not on this branch). */
    public static final class Main {
        public static void main(String[] args) {
            System.exit(new CommandLine(new AgentCommand()).execute(args));
        }
    }

    @Test
    void servesUntilSigtermThenRemovesItsSocket() throws Exception {
        Path socket = dir.resolve("agent.sock");
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElseThrow(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "--socket", socket.toString(), "--metrics-address", "127.0.0.1:0", "--max-series", "50"));
        Process agent = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            BufferedReader lines = new BufferedReader(
                    new InputStreamReader(agent.getInputStream(), StandardCharsets.UTF_8));
            Pattern started = Pattern.compile("metrics on http://127\\.0\\.0\\.1:(\\d+)/metrics");
            String line;
            int port = -1;
            StringBuilder seen = new StringBuilder();
            while (port < 0 && (line = lines.readLine()) != null) {
                seen.append(line).append('\n');
                Matcher m = started.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
            assertThat(port).as("agent output:\n" + seen).isPositive();
            assertThat(socket).exists();
            // Every thread of the agent, the JVM's own included, runs 10 nice levels below the one that started it.
            int expected = Math.min(Scheduling.MAX_NICE, Scheduling.currentThreadNice() + 10);
            List<Integer> nices = new ArrayList<>();
            try (var tasks = java.nio.file.Files.newDirectoryStream(Path.of("/proc", Long.toString(agent.pid()), "task"))) {
                for (Path task : tasks) {
                    nices.add(Scheduling.niceOf(task.resolve("stat")));
                }
            }
            assertThat(nices).hasSizeGreaterThan(5).allMatch(n -> n == expected);
            try (HttpClient http = HttpClient.newHttpClient()) {
                HttpResponse<String> health = http.send(HttpRequest.newBuilder(
                        URI.create("http://127.0.0.1:" + port + "/healthz")).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertThat(health.body()).isEqualTo("ok\n");
            }

            agent.destroy(); // SIGTERM
            assertThat(agent.waitFor(20, TimeUnit.SECONDS)).isTrue();
            // 143 = killed by SIGTERM after the shutdown hooks ran (the JVM's exit status for it).
            assertThat(agent.exitValue()).isIn(0, 143);
            assertThat(socket).doesNotExist();
        } finally {
            agent.destroyForcibly();
        }
    }

    @Test
    void badArgumentsAreNamed() {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new AgentCommand()).setErr(new PrintWriter(err));
        assertThat(cli.execute("--metrics-address", "nonsense")).isEqualTo(2);
        assertThat(err.toString()).contains("--metrics-address").contains("'nonsense' is not HOST:PORT");

        err.getBuffer().setLength(0);
        assertThat(cli.execute("--socket", dir.resolve("s.sock").toString(), "--max-series", "1")).isEqualTo(2);
        assertThat(err.toString()).contains("maxSeries must be at least 2");

        err.getBuffer().setLength(0);
        assertThat(cli.execute("--nice-increment", "20")).isEqualTo(2);
        assertThat(err.toString()).contains("--nice-increment must be 0..19, got 20");
    }

    @Test
    void aSocketPathThatIsARegularFileIsRefusedWithItsName() throws Exception {
        Path file = dir.resolve("not-a-socket");
        java.nio.file.Files.writeString(file, "x");
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new AgentCommand()).setErr(new PrintWriter(err));
        // --nice-increment 0: in this JVM the agent must not lower the test run's own threads.
        assertThat(cli.execute("--socket", file.toString(), "--metrics-address", "127.0.0.1:0", "--nice-increment", "0"))
                .isEqualTo(1);
        assertThat(err.toString()).contains(file + " exists and is not a socket");
    }
}
