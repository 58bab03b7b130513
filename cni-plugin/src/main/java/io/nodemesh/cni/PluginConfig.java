package io.nodemesh.cni;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The plugin's configuration as the runtime streams it on stdin: the conflist's {@code name} and {@code cniVersion},
 * nodemesh's own keys (each with its default, see docs/cni.md) and, on ADD, CHECK and DEL, the {@code prevResult}.
 * Keys the plugin does not know ({@code runtimeConfig}, {@code args}, {@code capabilities}, …) are left alone.
 */
record PluginConfig(String cniVersion, String name, Path controlSocket, Path enrolmentFile, Path stateDir,
                    Set<String> excludeNamespaces, Duration timeout, Map<String, Object> prevResult) {

    static final Path DEFAULT_CONTROL_SOCKET = Path.of("/var/run/nodemesh/cni.sock");
    static final Path DEFAULT_ENROLMENT_FILE = Path.of("/var/run/nodemesh/enrolment.json");
    static final Path DEFAULT_STATE_DIR = Path.of("/var/run/nodemesh");
    static final List<String> DEFAULT_EXCLUDED = List.of("kube-system", "nodemesh-system");
    static final int DEFAULT_TIMEOUT_SECONDS = 30;
    /** The most a {@code timeoutSeconds} may say: kubelet's own CNI timeout is in minutes, a pod start not much more. */
    static final int MAX_TIMEOUT_SECONDS = 600;

    /** The spec's versions this plugin speaks, oldest first (VERSION prints them). */
    static final List<String> SUPPORTED_VERSIONS = List.of("0.3.1", "0.4.0", "1.0.0", "1.1.0");
    /** What the plugin answers in when the input named no version it speaks. */
    static final String LATEST_VERSION = "1.1.0";

    /** Parses and checks the configuration; the command decides which spec version it needs (CHECK: 0.4.0). */
    static PluginConfig parse(byte[] stdin, String command) throws CniError {
        Map<String, Object> config;
        try {
            config = Json.parseObject(stdin);
        } catch (Json.JsonException e) {
            throw new CniError(CniError.DECODE_FAILURE, "the network configuration on stdin is not a JSON object",
                    e.getMessage());
        }
        // libcni reads a configuration without cniVersion as 0.1.0, which this plugin does not speak.
        String version = string(config, "cniVersion", "0.1.0");
        if (!SUPPORTED_VERSIONS.contains(version)) {
            throw new CniError(CniError.INCOMPATIBLE_VERSION, "incompatible CNI version " + version,
                    "nodemesh-cni supports " + String.join(", ", SUPPORTED_VERSIONS));
        }
        String needed = switch (command) {
            case "CHECK" -> "0.4.0";
            case "STATUS", "GC" -> "1.1.0";
            default -> "0.3.1";
        };
        if (SUPPORTED_VERSIONS.indexOf(version) < SUPPORTED_VERSIONS.indexOf(needed)) {
            throw new CniError(CniError.INCOMPATIBLE_VERSION, "incompatible CNI version " + version,
                    command + " exists from CNI " + needed + " on; the configuration says " + version);
        }
        Object prev = config.get("prevResult");
        if (prev != null && !(prev instanceof Map<?, ?>)) {
            throw invalid("prevResult must be an object, not " + Json.kind(prev));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> prevResult = (Map<String, Object>) prev;
        return new PluginConfig(version, string(config, "name", ""),
                path(config, "controlSocket", DEFAULT_CONTROL_SOCKET),
                path(config, "enrolmentFile", DEFAULT_ENROLMENT_FILE),
                path(config, "stateDir", DEFAULT_STATE_DIR),
                Set.copyOf(strings(config, "excludeNamespaces", DEFAULT_EXCLUDED)),
                Duration.ofSeconds(timeoutSeconds(config)),
                prevResult);
    }

    private static String string(Map<String, Object> config, String key, String absent) throws CniError {
        Object value = config.get(key);
        if (value == null) {
            return absent;
        }
        if (!(value instanceof String s)) {
            throw invalid(key + " must be a string, not " + Json.kind(value));
        }
        return s;
    }

    private static Path path(Map<String, Object> config, String key, Path absent) throws CniError {
        String text = string(config, key, null);
        if (text == null) {
            return absent;
        }
        if (!text.startsWith("/") || text.indexOf('\0') >= 0) {
            throw invalid(key + " must be an absolute path, not \"" + text + "\"");
        }
        return Path.of(text);
    }

    private static List<String> strings(Map<String, Object> config, String key, List<String> absent) throws CniError {
        Object value = config.get(key);
        if (value == null) {
            return absent;
        }
        if (value instanceof List<?> list && list.stream().allMatch(String.class::isInstance)) {
            return list.stream().map(String.class::cast).toList();
        }
        throw invalid(key + " must be an array of namespace names");
    }

    private static long timeoutSeconds(Map<String, Object> config) throws CniError {
        Object value = config.get("timeoutSeconds");
        if (value == null) {
            return DEFAULT_TIMEOUT_SECONDS;
        }
        if (value instanceof Long seconds && seconds >= 1 && seconds <= MAX_TIMEOUT_SECONDS) {
            return seconds;
        }
        throw invalid("timeoutSeconds must be a whole number of seconds from 1 to " + MAX_TIMEOUT_SECONDS
                + ", not " + value);
    }

    private static CniError invalid(String details) {
        return new CniError(CniError.INVALID_CONFIG, "invalid network configuration", details);
    }
}
