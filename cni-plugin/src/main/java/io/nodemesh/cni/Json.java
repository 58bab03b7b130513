package io.nodemesh.cni;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * JSON as plain Java values, in document order, over jackson-core's streaming parser (the plugin's one JSON
 * dependency: no data binding, no reflection). An object is a {@link LinkedHashMap} (key order kept, so a
 * config written back differs from the original only where it was changed), an array an {@link ArrayList}, a
 * number a {@link Long}, {@link BigInteger} or {@link BigDecimal} (never a double: no digit is lost on the way
 * through), then {@link String}, {@link Boolean} and {@code null}.
 */
public final class Json {

    private static final JsonFactory FACTORY = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(64).build())
            .build();

    private Json() {}

    /**
     * Parses one JSON value that must fill {@code bytes} (UTF-8).
     *
     * @throws JsonException with the position of the first problem: not JSON, trailing content, a duplicate key
     */
    public static Object parse(byte[] bytes) throws JsonException {
        try (JsonParser parser = FACTORY.createParser(bytes)) {
            parser.enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);
            JsonToken first = parser.nextToken();
            if (first == null) {
                throw new JsonException("empty input: expected a JSON value");
            }
            Object value = read(parser);
            if (parser.nextToken() != null) {
                throw new JsonException("trailing content after the JSON value at " + position(parser));
            }
            return value;
        } catch (JsonException e) {
            throw e;
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            var at = e.getLocation();
            throw new JsonException(e.getOriginalMessage()
                    + (at == null ? "" : " at line " + at.getLineNr() + ", column " + at.getColumnNr()));
        } catch (IOException e) {
            throw new JsonException("not JSON: " + e.getMessage());
        }
    }

    /** Parses a JSON object; anything else is a {@link JsonException}. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(byte[] bytes) throws JsonException {
        Object value = parse(bytes);
        if (!(value instanceof Map<?, ?>)) {
            throw new JsonException("expected a JSON object, got " + kind(value));
        }
        return (Map<String, Object>) value;
    }

    /** The value compactly, on one line. */
    public static byte[] write(Object value) {
        return write(value, false);
    }

    /** The value indented by two spaces, one member per line, ending with a newline (for files people read). */
    public static byte[] writePretty(Object value) {
        return write(value, true);
    }

    /** What kind of JSON value this is, for messages: object, array, string, number, boolean, null. */
    public static String kind(Object value) {
        return switch (value) {
            case null -> "null";
            case Map<?, ?> m -> "object";
            case List<?> l -> "array";
            case String s -> "string";
            case Number n -> "number";
            case Boolean b -> "boolean";
            default -> value.getClass().getSimpleName();
        };
    }

    private static Object read(JsonParser parser) throws IOException {
        JsonToken token = parser.currentToken();
        switch (token) {
            case START_OBJECT -> {
                Map<String, Object> object = new LinkedHashMap<>();
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String name = parser.currentName();
                    parser.nextToken();
                    object.put(name, read(parser));
                }
                return object;
            }
            case START_ARRAY -> {
                List<Object> array = new ArrayList<>();
                while (parser.nextToken() != JsonToken.END_ARRAY) {
                    array.add(read(parser));
                }
                return array;
            }
            case VALUE_STRING -> {
                return parser.getText();
            }
            case VALUE_NUMBER_INT -> {
                return switch (parser.getNumberType()) {
                    case INT, LONG -> parser.getLongValue();
                    default -> parser.getBigIntegerValue();
                };
            }
            case VALUE_NUMBER_FLOAT -> {
                return parser.getDecimalValue();
            }
            case VALUE_TRUE -> {
                return Boolean.TRUE;
            }
            case VALUE_FALSE -> {
                return Boolean.FALSE;
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw new JsonException("unexpected " + token + " at " + position(parser));
        }
    }

    private static byte[] write(Object value, boolean pretty) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(256);
        try (JsonGenerator generator = FACTORY.createGenerator(out)) {
            if (pretty) {
                generator.setPrettyPrinter(new DefaultPrettyPrinter()
                        .withObjectIndenter(new DefaultIndenter("  ", "\n"))
                        .withArrayIndenter(new DefaultIndenter("  ", "\n"))
                        .withoutSpacesInObjectEntries()
                        .withSeparators(DefaultPrettyPrinter.DEFAULT_SEPARATORS
                                .withObjectFieldValueSpacing(com.fasterxml.jackson.core.util.Separators.Spacing.AFTER)));
            }
            writeValue(generator, value);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        if (pretty) {
            out.write('\n');
        }
        return out.toByteArray();
    }

    private static void writeValue(JsonGenerator generator, Object value) throws IOException {
        switch (value) {
            case null -> generator.writeNull();
            case Map<?, ?> map -> {
                generator.writeStartObject();
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    generator.writeFieldName(String.valueOf(e.getKey()));
                    writeValue(generator, e.getValue());
                }
                generator.writeEndObject();
            }
            case List<?> list -> {
                generator.writeStartArray();
                for (Object item : list) {
                    writeValue(generator, item);
                }
                generator.writeEndArray();
            }
            case String s -> generator.writeString(s);
            case Boolean b -> generator.writeBoolean(b);
            case Long l -> generator.writeNumber(l);
            case Integer i -> generator.writeNumber(i);
            case BigInteger b -> generator.writeNumber(b);
            case BigDecimal d -> generator.writeNumber(d);
            default -> throw new IllegalArgumentException("not a JSON value: " + value.getClass().getName());
        }
    }

    private static String position(JsonParser parser) {
        var location = parser.currentTokenLocation();
        return "line " + location.getLineNr() + ", column " + location.getColumnNr();
    }

    /** The input is not the JSON that was expected; the message says where and why. */
    public static final class JsonException extends IOException {
        public JsonException(String message) {
            super(message);
        }
    }
}
