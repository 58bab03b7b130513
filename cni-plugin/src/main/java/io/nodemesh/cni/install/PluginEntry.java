package io.nodemesh.cni.install;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Our entry in the node's conflist, chained last: the plugin's type and the settings it reads (docs/cni.md). Validated
 * when made, so a mistake in an option never reaches a config file.
 *
 * @param name             the entry's {@code name} (informational; the list's name is what the runtime uses)
 * @param controlSocket    the node proxy's control socket
 * @param enrolmentFile    the proxy's enrolment file (which namespaces are enrolled)
 * @param stateDir         where the plugin writes {@code cni-last-<CMD>.json}
 * @param excludeNamespaces namespaces the plugin never asks about
 * @param timeoutSeconds   how long ADD waits for the proxy
 */
public record PluginEntry(String name, Path controlSocket, Path enrolmentFile, Path stateDir,
        List<String> excludeNamespaces, int timeoutSeconds) {

    /** The plugin's {@code type}: the executable's name in the CNI bin dir. */
    public static final String TYPE = "nodemesh-cni";

    public static final String DEFAULT_NAME = "nodemesh";
    public static final String DEFAULT_CONTROL_SOCKET = "/var/run/nodemesh/cni.sock";
    public static final String DEFAULT_ENROLMENT_FILE = "/var/run/nodemesh/enrolment.json";
    public static final String DEFAULT_STATE_DIR = "/var/run/nodemesh";
    public static final List<String> DEFAULT_EXCLUDED = List.of("kube-system", "nodemesh-system");
    public static final int DEFAULT_TIMEOUT_SECONDS = 30;
    /** The longest ADD may wait: kubelet's own sandbox timeout is a few minutes. */
    public static final int MAX_TIMEOUT_SECONDS = 600;

    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,252}");
    private static final Pattern NAMESPACE = Pattern.compile("[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?");

    public PluginEntry {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("plugin name '" + name + "': 1-253 of letters, digits, '.', '_', '-'");
        }
        absolute("control socket", controlSocket);
        absolute("enrolment file", enrolmentFile);
        absolute("state dir", stateDir);
        excludeNamespaces = List.copyOf(excludeNamespaces);
        var seen = new HashSet<String>();
        for (String ns : excludeNamespaces) {
            if (!NAMESPACE.matcher(ns).matches()) {
                throw new IllegalArgumentException("excluded namespace '" + ns + "' is not a namespace name (DNS-1123 label)");
            }
            if (!seen.add(ns)) {
                throw new IllegalArgumentException("excluded namespace '" + ns + "' is listed twice");
            }
        }
        if (timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
            throw new IllegalArgumentException("timeout " + timeoutSeconds + " s: must be 1 to " + MAX_TIMEOUT_SECONDS);
        }
    }

    /** The entry with every default (docs/cni.md). */
    public static PluginEntry defaults() {
        return new PluginEntry(DEFAULT_NAME, Path.of(DEFAULT_CONTROL_SOCKET), Path.of(DEFAULT_ENROLMENT_FILE),
                Path.of(DEFAULT_STATE_DIR), DEFAULT_EXCLUDED, DEFAULT_TIMEOUT_SECONDS);
    }

    /** The entry as it goes into a conflist's {@code plugins}, {@code type} first. */
    public Map<String, Object> toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("type", TYPE);
        json.put("name", name);
        json.put("controlSocket", controlSocket.toString());
        json.put("enrolmentFile", enrolmentFile.toString());
        json.put("stateDir", stateDir.toString());
        json.put("excludeNamespaces", List.copyOf(excludeNamespaces));
        json.put("timeoutSeconds", (long) timeoutSeconds);
        return json;
    }

    /** Whether a conflist's plugin entry is a nodemesh one (of any settings). */
    public static boolean isOurs(Object plugin) {
        return plugin instanceof Map<?, ?> map && TYPE.equals(map.get("type"));
    }

    private static void absolute(String what, Path path) {
        if (path == null || !path.isAbsolute()) {
            throw new IllegalArgumentException(what + " '" + path + "' must be an absolute path");
        }
    }
}
