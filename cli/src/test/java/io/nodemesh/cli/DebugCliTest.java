package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Field;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@link DebugCli}: the debugging commands' fast path answers exactly as the picocli command line does. */
final class DebugCliTest {

    @TempDir
    static Path dir;

    private static CliServers servers;

    @BeforeAll
    static void startServers() throws Exception {
        servers = CliServers.start(dir);
    }

    @AfterAll
    static void stopServers() {
        servers.close();
    }

    /** What one run printed and returned. */
    private record Run(int status, String out, String err) {
    }

    private static Run fast(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = DebugCli.run(args, new PrintWriter(out), new PrintWriter(err));
        return new Run(status, out.toString(), err.toString());
    }

    private static Run picocli(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int status = NodemeshCommand.commandLine().setOut(new PrintWriter(out)).setErr(new PrintWriter(err)).execute(args);
        return new Run(status, out.toString(), err.toString());
    }

    @Test
    void printsWhatTheWholeCommandLinePrints() {
        List<String[]> calls = List.of(
                new String[] {"status", "--admin", servers.admin()},
                new String[] {"status", "--admin", servers.adminSocket(), "-o", "json"},
                new String[] {"connections", "--admin=" + servers.admin(), "-n", "3"},
                new String[] {"connections", "--admin", servers.adminSocket(), "-o", "json", "--pod", "demo/a"},
                new String[] {"top", "--metrics-address", servers.agent(), "-n", "5"},
                new String[] {"top", "--metrics-address", servers.agent(), "-o", "json"},
                new String[] {"workloads", "--admin", servers.admin()},
                new String[] {"workloads", "--admin", servers.adminSocket(), "-n", "demo", "-o", "json"},
                new String[] {"services", "--admin", servers.adminSocket()},
                new String[] {"services", "--admin", servers.admin(), "-o", "json"},
                new String[] {"config-dump", "--admin", servers.adminSocket()},
                new String[] {"config-dump", "--admin", servers.admin(), "-o", "json"});
        for (String[] call : calls) {
            Run fast = fast(call);
            assertThat(fast).as(String.join(" ", call)).isEqualTo(picocli(call));
            assertThat(fast.status()).as(fast.err()).isZero();
        }
        assertThat(fast("status", "--admin", servers.admin()).out()).contains("transport nio", CliServers.CONFIG_FILE)
                .contains("\n          " + CliServers.WATCH_DETAIL + "\n");
        assertThat(fast("top", "--metrics-address", servers.agent()).out().lines().toList())
                .hasSize(3).anySatisfy(line -> assertThat(line).startsWith("busy.demo"));
        assertThat(fast("workloads", "--admin", servers.adminSocket()).out()).isEqualTo("""
                NAMESPACE  POD    ADDRESS    NODE    CAPTURE
                demo       a      10.77.0.2  node-1  captured
                demo       ghost  10.77.0.9  node-1  failed(netns_not_found)
                other      c      10.78.0.3  node-2  -
                """);
        assertThat(fast("workloads", "--admin", servers.admin(), "-n", "other").out()).isEqualTo("""
                NAMESPACE  POD  ADDRESS    NODE    CAPTURE
                other      c    10.78.0.3  node-2  -
                """);
        assertThat(fast("services", "--admin", servers.admin()).out()).isEqualTo("""
                NAMESPACE  NAME  VIP         ENDPOINTS
                demo       web   10.96.0.10  1/2
                """);
    }

    @Test
    void jsonIsWhatTheServersAnswered() throws Exception {
        ObjectMapper json = new ObjectMapper();
        for (String[] page : List.of(new String[] {"status", "/stats"}, new String[] {"workloads", "/workloads"},
                new String[] {"services", "/services"}, new String[] {"config-dump", "/config_dump"})) {
            String[] call = page[0].equals("config-dump") ? new String[] {page[0], "--admin", servers.admin()}
                    : new String[] {page[0], "--admin", servers.admin(), "-o", "json"};
            Run run = fast(call);
            assertThat(run.status()).as(run.err()).isZero();
            AdminAddress unix = AdminAddress.parse(servers.adminSocket());
            assertThat(json.readTree(run.out())).as(page[1]).isEqualTo(json.readTree(AdminClient.fetch(unix, page[1])));
        }
        JsonNode dump = json.readTree(fast("config-dump", "--admin", servers.adminSocket()).out());
        assertThat(dump.path("pods")).hasSize(3);
        assertThat(dump.path("services").get(0).path("name").asText()).isEqualTo("web");
        assertThat(dump.path("proxy").path("drainTimeout").asText()).isEqualTo("30s");
        assertThat(dump.path("namespaces").get(0).path("enrolled").asBoolean()).isTrue();
        assertThat(dump.path("namespaces").get(0).path("peerAuthentication").asText()).isEqualTo("permissive");
        JsonNode top = json.readTree(fast("top", "--metrics-address", servers.agent(), "-o", "json", "-n", "1").out());
        assertThat(top.path("pairs")).hasSize(1);
    }

    @Test
    void connectionsSaysThePathSecurityAndPeerOfEachConnection() {
        assertThat(fast("connections", "--admin", servers.admin()).out()).isEqualTo("""
                open (0)
                POD  DIRECTION  SOURCE  ORIGINAL DESTINATION  PATH  SECURITY  PEER  BYTES OUT  BYTES BACK  OPENED

                recently closed, newest first (4)
                POD     DIRECTION  SOURCE           ORIGINAL DESTINATION  PATH                    SECURITY    PEER                                  BYTES OUT  BYTES BACK  DURATION  OUTCOME
                demo/a  inbound    10.99.0.7:51000  10.77.0.2:8080        plaintext               none        -                                     0 B        0 B         3 ms      DENIED
                demo/a  inbound    10.78.0.3:0      10.77.0.2:8080        tunnel 10.78.0.3:43122  mutual_tls  spiffe://cluster.local/ns/other/sa/c  512 B      256 B       3 ms      OK
                demo/a  outbound   10.77.0.2:40000  10.78.0.3:8080        tunnel 10.78.0.3:15008  mutual_tls  spiffe://cluster.local/ns/other/sa/c  2.0 KiB    1.0 KiB     3 ms      OK
                demo/a  outbound   10.77.0.2:40001  10.99.0.8:5432        plaintext               none        -                                     100 B      50 B        3 ms      RESET (upstream)
                """);
        assertThat(fast("connections", "--admin", servers.admin(), "--pod", "demo/ghost").out())
                .contains("recently closed, newest first (0)");
    }

    @Test
    void connectionsJsonIsThePageAsServedWithItsFilters() throws Exception {
        Run run = fast("connections", "--admin", servers.adminSocket(), "-o", "json", "--pod", "demo/a", "-n", "2");
        assertThat(run.status()).as(run.err()).isZero();
        ObjectMapper json = new ObjectMapper();
        JsonNode printed = json.readTree(run.out());
        assertThat(printed).isEqualTo(json.readTree(AdminClient.fetch(AdminAddress.parse(servers.adminSocket()),
                "/connections?recent=2&pod=demo%2Fa")));
        assertThat(printed.path("recent")).hasSize(2);
        assertThat(printed.path("recent").get(1).path("sourcePrincipal").asText())
                .isEqualTo("spiffe://cluster.local/ns/other/sa/c");
        assertThat(printed.path("recent").get(1).path("security").asText()).isEqualTo("mutual_tls");
    }

    @Test
    void leavesHelpAndMistakesToPicocliWhichAnswersAsUnderNodemesh() throws IOException {
        int closed;
        try (ServerSocket free = new ServerSocket(0)) {
            closed = free.getLocalPort();
        }
        List<String[]> calls = List.of(
                new String[] {"status", "--help"},
                new String[] {"status", "--admin", "nonsense"},
                new String[] {"status", "--admin"},
                new String[] {"status", "--admin", servers.admin(), "--admin", servers.admin()},
                new String[] {"status", "--admin", "127.0.0.1:" + closed},
                new String[] {"connections", "-n", "-3", "--admin", servers.admin()},
                new String[] {"connections", "--no-such-option"},
                new String[] {"top", "-n", "0x10", "--metrics-address", servers.agent()},
                new String[] {"top", "-n", "0", "--metrics-address", servers.agent()},
                new String[] {"workloads", "-o", "yaml", "--admin", servers.admin()},
                new String[] {"services", "--admin", "unix:"},
                new String[] {"workloads", "--admin", "unix:" + dir.resolve("no-such.sock")},
                new String[] {"config-dump", "-o", "table"});
        for (String[] call : calls) {
            assertThat(fast(call)).as(String.join(" ", call)).isEqualTo(picocli(call));
        }
        assertThat(fast("status", "--admin", "nonsense").err())
                .contains("'nonsense' is not HOST:PORT", "Usage: nodemesh status");
        assertThat(fast("status", "--admin", "127.0.0.1:" + closed).err())
                .contains("nodemesh status: cannot reach the proxy's admin API at http://127.0.0.1:" + closed);
        assertThat(fast("status", "--help").out()).startsWith("Usage: nodemesh status");
        assertThat(fast("connections", "-n", "-3", "--admin", servers.admin()).status()).isEqualTo(2);
        assertThat(fast("top", "-n", "0x10").err()).contains("Invalid value for option '-n'");
        Run yaml = fast("workloads", "-o", "yaml", "--admin", servers.admin());
        assertThat(yaml.status()).isEqualTo(2);
        assertThat(yaml.err()).isEqualTo("nodemesh workloads: -o: 'yaml' is not table or json\n");
        assertThat(fast("workloads", "--admin", "unix:" + dir.resolve("no-such.sock")).err()).isEqualTo(
                "nodemesh workloads: cannot reach the proxy's admin API at unix:" + dir.resolve("no-such.sock")
                        + " /workloads (no such socket; is 'nodemesh proxy' running, with --admin-socket "
                        + dir.resolve("no-such.sock") + "?)\n");
        assertThat(fast("config-dump", "-o", "table").err())
                .isEqualTo("nodemesh config-dump: -o: 'table' is not json (the config is printed as JSON only)\n");
    }

    @Test
    void bindsOptionsAsPicocliDoesAndDeclinesWhatItDoesNotKnow() throws Exception {
        Map<Supplier<Object>, List<String[]>> accepted = new LinkedHashMap<>();
        accepted.put(StatusCommand::new, List.of(new String[] {}, new String[] {"--admin", "10.1.2.3:15000"},
                new String[] {"--admin=[::1]:15001"}));
        accepted.put(ConnectionsCommand::new, List.<String[]>of(new String[] {"--pod", "demo/a", "-n", "7", "--admin", "10.0.0.9:1"}));
        accepted.put(TopCommand::new, List.<String[]>of(new String[] {"-n", "25", "--metrics-address", "127.0.0.1:15020",
                "-o", "json"}));
        accepted.put(WorkloadsCommand::new, List.of(new String[] {"-n", "demo", "--admin", "unix:/run/x.sock"},
                new String[] {"-o", "json", "--admin=[::1]:15000"}));
        accepted.put(ServicesCommand::new, List.<String[]>of(new String[] {"-n", "demo", "-o", "table"}));
        accepted.put(ConfigDumpCommand::new, List.<String[]>of(new String[] {"--admin", "unix:/run/x.sock"}));
        for (Map.Entry<Supplier<Object>, List<String[]>> e : accepted.entrySet()) {
            for (String[] args : e.getValue()) {
                Object bound = e.getKey().get();
                Object parsed = e.getKey().get();
                assertThat(DebugCli.bind(bound, args)).as(String.join(" ", args)).isTrue();
                new CommandLine(parsed).parseArgs(args);
                assertThat(options(bound)).as(String.join(" ", args)).isEqualTo(options(parsed));
            }
        }
        for (String[] args : List.of(new String[] {"-h"}, new String[] {"--version"}, new String[] {"--admin"},
                new String[] {"--admin", "a:1", "--admin", "b:2"}, new String[] {"--admin", "nonsense"},
                new String[] {"--admin", "--help"}, new String[] {"positional"})) {
            assertThat(DebugCli.bind(new StatusCommand(), args)).as(String.join(" ", args)).isFalse();
        }
        assertThat(DebugCli.bind(new TopCommand(), new String[] {"-n", "-1"})).isFalse();
        assertThat(DebugCli.bind(new TopCommand(), new String[] {"-n", "99999999999"})).isFalse();
        assertThat(DebugCli.bind(new TopCommand(), new String[] {"-n5"})).isFalse();
    }

    @Test
    void knowsEveryOptionPicocliKnowsButHelpAndVersion() {
        for (Object command : List.of(new StatusCommand(), new ConnectionsCommand(), new TopCommand(),
                new WorkloadsCommand(), new ServicesCommand(), new ConfigDumpCommand())) {
            Set<String> names = new HashSet<>();
            new CommandLine(command).getCommandSpec().options().forEach(o -> names.addAll(List.of(o.names())));
            names.removeAll(Set.of("-h", "--help", "-V", "--version"));
            assertThat(DebugCli.OPTIONS.get(command.getClass())).as(command.getClass().getSimpleName()).isEqualTo(names);
        }
    }

    private static Map<String, Object> options(Object command) throws IllegalAccessException {
        Map<String, Object> values = new LinkedHashMap<>();
        for (Field field : command.getClass().getDeclaredFields()) {
            if (field.isAnnotationPresent(CommandLine.Option.class)) {
                field.setAccessible(true);
                values.put(field.getName(), field.get(command));
            }
        }
        assertThat(values).as(command.getClass().getSimpleName() + "'s options").isNotEmpty();
        return values;
    }

    @Test
    void readsContentLengthChunkedAndEndOfStreamBodies() throws IOException {
        assertThat(HttpGet.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello-and-more")))
                .isEqualTo(new HttpGet.Response(200, "hello"));
        assertThat(HttpGet.parse(bytes("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
                + "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n")))
                .isEqualTo(new HttpGet.Response(200, "hello, world"));
        assertThat(HttpGet.parse(bytes("HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nno such page\n")))
                .isEqualTo(new HttpGet.Response(404, "no such page\n"));
        assertThatThrownBy(() -> HttpGet.parse(bytes("SSH-2.0-OpenSSH_9.2\r\n"))).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> HttpGet.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort")))
                .isInstanceOf(IOException.class).hasMessageContaining("5 of its 50 bytes");
        assertThatThrownBy(() -> HttpGet.parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n")))
                .isInstanceOf(IOException.class).hasMessageContaining("Content-Length: x");
    }

    @Test
    void parsesJsonIntoTheTreeAnObjectMapperBuilds() throws IOException {
        String json = """
                {"transport":"epoll","n":3,"big":12345678901,"huge":123456789012345678901234567890,"ratio":0.25,
                 "on":true,"off":false,"none":null,"pods":[{"pod":"demo/a","ips":["10.0.0.1","fd00::1"]},[],{}],
                 "text":"caf\\u00e9 \\"quoted\\""}
                """;
        assertThat(AdminClient.parse(json)).isEqualTo(new ObjectMapper().readTree(json));
        assertThatThrownBy(() -> AdminClient.parse("{\"a\":")).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> AdminClient.parse("{} {}")).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> AdminClient.parse("")).isInstanceOf(IOException.class);
    }

    private static byte[] bytes(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }
}
