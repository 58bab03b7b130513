package io.nodemesh.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** Reads the node proxy's admin API for the debug commands, turning every failure into one clear sentence. */
final class AdminClient {

    /** What a debug command could not do, worded for the operator. */
    static final class Unreachable extends Exception {
        Unreachable(String message) {
            super(message);
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private AdminClient() {
    }

    /** GETs {@code path} from the admin server at {@code admin} and parses the JSON it returns. */
    static JsonNode get(InetSocketAddress admin, String path) throws Unreachable, InterruptedException {
        URI uri = URI.create("http://" + AgentCommand.format(admin) + path);
        HttpResponse<String> response;
        try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(3)).build()) {
            response = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (ConnectException e) {
            throw new Unreachable("cannot reach the proxy's admin API at " + uri
                    + " (connection refused; is 'nodemesh proxy' running, with --admin " + AgentCommand.format(admin) + "?)");
        } catch (IOException e) {
            throw new Unreachable("cannot read " + uri + ": " + e);
        }
        if (response.statusCode() != 200) {
            throw new Unreachable(uri + " answered " + response.statusCode() + ": " + response.body().strip());
        }
        try {
            return JSON.readTree(response.body());
        } catch (IOException e) {
            throw new Unreachable(uri + " did not return JSON: " + e.getMessage());
        }
    }
}
