package io.nodemesh.cli;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nodemesh.proxy.config.HostPort;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.ConnectException;
import java.net.URI;
import java.nio.file.Files;

/** Reads the node proxy's admin API for the debug commands, turning every failure into one clear sentence. */
final class AdminClient {

    /** What a debug command could not do, worded for the operator. */
    static final class Unreachable extends Exception {
        Unreachable(String message) {
            super(message);
        }
    }

    // The tree is built from jackson-core's parser, not by an ObjectMapper: setting one up took longer than the rest of
    // `nodemesh status` (jmh-bench/RESULTS.md, cli-startup).
    private static final JsonFactory JSON = new JsonFactory();
    private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

    private AdminClient() {
    }

    /** GETs {@code target} ({@code /PATH?QUERY}) from the admin server at {@code admin} and parses the JSON it returns. */
    static JsonNode get(AdminAddress admin, String target) throws Unreachable {
        return tree(admin, target, fetch(admin, target));
    }

    /** The JSON {@code body} that {@code target} at {@code admin} answered, as a tree. */
    static JsonNode tree(AdminAddress admin, String target, String body) throws Unreachable {
        try {
            return parse(body);
        } catch (IOException e) {
            throw new Unreachable(where(admin, target) + " did not return JSON: " + e.getMessage());
        }
    }

    /**
     * What a debugging command got from the admin API: a tree to print as a table, or, with no tree, the command is
     * done and exits with {@code exit} (the JSON printed as it came, a bad {@code -o}, or the failure said on its
     * error stream).
     */
    record Answer(int exit, JsonNode table) {
    }

    /**
     * GETs {@code target} for the command {@code command} with output format {@code output}: {@code json} prints the
     * body as it came, {@code table} hands its tree back; a bad format or an unreachable API is said on {@code err}.
     */
    static Answer get(AdminAddress admin, String target, String output, String command, PrintWriter out,
            PrintWriter err) {
        if (!OutputFormat.check(output, command, err)) {
            return new Answer(2, null);
        }
        try {
            String body = fetch(admin, target);
            if (OutputFormat.JSON.equals(output)) {
                OutputFormat.printJson(out, body);
                return new Answer(0, null);
            }
            return new Answer(0, tree(admin, target, body));
        } catch (Unreachable e) {
            err.println("nodemesh " + command + ": " + e.getMessage());
            return new Answer(1, null);
        }
    }

    /** GETs {@code target} from the admin server at {@code admin}: the body of a 200 answer. */
    static String fetch(AdminAddress admin, String target) throws Unreachable {
        HttpGet.Response response;
        String where = where(admin, target);
        try {
            response = admin.socket() != null ? HttpGet.get(admin.socket(), target)
                    : HttpGet.get(URI.create("http://" + HostPort.format(admin.tcp()) + target));
        } catch (ConnectException e) {
            throw new Unreachable("cannot reach the proxy's admin API at " + where + " (connection refused; is "
                    + "'nodemesh proxy' running, with " + flag(admin) + "?)");
        } catch (IOException e) {
            if (admin.socket() != null && !Files.exists(admin.socket())) {
                throw new Unreachable("cannot reach the proxy's admin API at " + where + " (no such socket; is "
                        + "'nodemesh proxy' running, with " + flag(admin) + "?)");
            }
            throw new Unreachable("cannot read " + where + ": " + e);
        }
        if (response.status() != 200) {
            throw new Unreachable(where + " answered " + response.status() + ": " + response.body().strip());
        }
        return response.body();
    }

    /** {@code http://127.0.0.1:15000/stats} or {@code unix:/var/run/nodemesh/admin.sock /stats}. */
    private static String where(AdminAddress admin, String target) {
        return admin.socket() != null ? admin + " " + target : "http://" + admin + target;
    }

    private static String flag(AdminAddress admin) {
        return admin.socket() != null ? "--admin-socket " + admin.socket() : "--admin " + admin;
    }

    /** The JSON document {@code text} as a tree. */
    static JsonNode parse(String text) throws IOException {
        try (JsonParser parser = JSON.createParser(text)) {
            if (parser.nextToken() == null) {
                throw new IOException("no JSON value in an empty body");
            }
            JsonNode tree = value(parser);
            if (parser.nextToken() != null) {
                throw new IOException("more than one JSON value, at " + parser.currentLocation());
            }
            return tree;
        }
    }

    private static JsonNode value(JsonParser parser) throws IOException {
        JsonToken token = parser.currentToken();
        if (token == null) {
            throw new IOException("the JSON ended early, at " + parser.currentLocation());
        }
        return switch (token) {
            case START_OBJECT -> {
                ObjectNode object = NODES.objectNode();
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String name = parser.currentName();
                    parser.nextToken();
                    object.set(name, value(parser));
                }
                yield object;
            }
            case START_ARRAY -> {
                ArrayNode array = NODES.arrayNode();
                while (parser.nextToken() != JsonToken.END_ARRAY) {
                    array.add(value(parser));
                }
                yield array;
            }
            case VALUE_STRING -> NODES.textNode(parser.getText());
            case VALUE_NUMBER_INT -> switch (parser.getNumberType()) {
                case INT -> NODES.numberNode(parser.getIntValue());
                case LONG -> NODES.numberNode(parser.getLongValue());
                default -> NODES.numberNode(parser.getBigIntegerValue());
            };
            case VALUE_NUMBER_FLOAT -> NODES.numberNode(parser.getDoubleValue());
            case VALUE_TRUE -> NODES.booleanNode(true);
            case VALUE_FALSE -> NODES.booleanNode(false);
            case VALUE_NULL -> NODES.nullNode();
            default -> throw new IOException("unexpected " + token + " at " + parser.currentLocation());
        };
    }
}
