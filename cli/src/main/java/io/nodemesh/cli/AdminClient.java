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
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.URI;

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

    /** GETs {@code path} from the admin server at {@code admin} and parses the JSON it returns. */
    static JsonNode get(InetSocketAddress admin, String path) throws Unreachable {
        URI uri = URI.create("http://" + HostPort.format(admin) + path);
        HttpGet.Response response;
        try {
            response = HttpGet.get(uri);
        } catch (ConnectException e) {
            throw new Unreachable("cannot reach the proxy's admin API at " + uri
                    + " (connection refused; is 'nodemesh proxy' running, with --admin " + HostPort.format(admin) + "?)");
        } catch (IOException e) {
            throw new Unreachable("cannot read " + uri + ": " + e);
        }
        if (response.status() != 200) {
            throw new Unreachable(uri + " answered " + response.status() + ": " + response.body().strip());
        }
        try {
            return parse(response.body());
        } catch (IOException e) {
            throw new Unreachable(uri + " did not return JSON: " + e.getMessage());
        }
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
