package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code nodemesh connections} against a real admin server over a fixed proxy ({@link CliServers}): the table says how
 * each connection crosses between the proxies, its security and its far end's identity; {@code -o json} is the page.
 */
final class ConnectionsCommandTest {

    @TempDir
    static Path dir;

    private static CliServers servers;

    private final CommandRun cli = new CommandRun();

    @BeforeAll
    static void startServers() throws Exception {
        servers = CliServers.start(dir);
    }

    @AfterAll
    static void stopServers() {
        servers.close();
    }

    @Test
    void theTableShowsPathSecurityAndPeerOfEachConnection() {
        assertThat(cli.nodemesh("connections", "--admin", servers.admin())).as(cli.err()).isZero();
        assertThat(cli.out()).isEqualTo("""
                open (0)
                POD  DIRECTION  SOURCE  ORIGINAL DESTINATION  PATH  SECURITY  PEER  BYTES OUT  BYTES BACK  OPENED

                recently closed, newest first (3)
                POD     DIRECTION  SOURCE           ORIGINAL DESTINATION  PATH                    SECURITY    PEER                                  BYTES OUT  BYTES BACK  DURATION  OUTCOME
                demo/a  inbound    10.99.0.7:51000  10.77.0.2:8080        plaintext               none        -                                     0 B        0 B         3 ms      DENIED
                demo/a  inbound    10.78.0.3:0      10.77.0.2:8080        tunnel 10.78.0.3:43122  mutual_tls  spiffe://cluster.local/ns/other/sa/c  512 B      256 B       3 ms      OK
                demo/a  outbound   10.77.0.2:40000  10.78.0.3:8080        tunnel 10.78.0.3:15008  mutual_tls  spiffe://cluster.local/ns/other/sa/c  2.0 KiB    1.0 KiB     3 ms      OK
                """);
    }

    @Test
    void jsonIsThePageAsServedAndThePodFilterStillApplies() throws Exception {
        assertThat(cli.nodemesh("connections", "--admin", servers.adminSocket(), "-o", "json", "--pod", "demo/a",
                "-n", "2")).as(cli.err()).isZero();
        ObjectMapper json = new ObjectMapper();
        var printed = json.readTree(cli.out());
        assertThat(printed).isEqualTo(json.readTree(get("/connections?recent=2&pod=demo%2Fa")));
        assertThat(printed.path("recent")).hasSize(2);
        assertThat(printed.path("recent").get(1).path("sourcePrincipal").asText())
                .isEqualTo("spiffe://cluster.local/ns/other/sa/c");
        assertThat(printed.path("recent").get(1).path("security").asText()).isEqualTo("mutual_tls");

        cli.clearOut();
        assertThat(cli.nodemesh("connections", "--admin", servers.admin(), "--pod", "demo/ghost")).isZero();
        assertThat(cli.out()).contains("recently closed, newest first (0)");
    }

    private static String get(String target) throws Exception {
        try (HttpClient http = HttpClient.newHttpClient()) {
            return http.send(HttpRequest.newBuilder(URI.create("http://" + servers.admin() + target)).build(),
                    HttpResponse.BodyHandlers.ofString()).body();
        }
    }
}
