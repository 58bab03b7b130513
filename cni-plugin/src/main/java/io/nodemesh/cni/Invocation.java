package io.nodemesh.cni;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What the runtime passes in the environment ({@code CNI_*}), checked for the command: the spec's required variables
 * for ADD and CHECK are {@code CNI_CONTAINERID}, {@code CNI_NETNS}, {@code CNI_IFNAME}; DEL does without
 * {@code CNI_NETNS}. The pod comes from {@code CNI_ARGS} ({@code K8S_POD_NAMESPACE}, {@code K8S_POD_NAME},
 * {@code K8S_POD_UID}, as kubelet's runtimes pass them); other keys there ({@code IgnoreUnknown=1}, …) are ignored.
 */
record Invocation(String command, String containerId, String netns, String ifname, Pod pod, String cniPath) {

    /** The pod as {@code CNI_ARGS} names it; {@code uid} may be empty (only a pod sent to the proxy needs it). */
    record Pod(String namespace, String name, String uid) {
        @Override
        public String toString() {
            return namespace + "/" + name;
        }
    }

    private static final Pattern CONTAINER_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]*");

    /** The command alone ({@code CNI_COMMAND}), upper case as the spec writes it. */
    static String command(Map<String, String> env) throws CniError {
        String command = env.getOrDefault("CNI_COMMAND", "");
        return switch (command) {
            case "ADD", "DEL", "CHECK", "VERSION", "STATUS", "GC" -> command;
            case "" -> throw invalid("CNI_COMMAND is not set", List.of("CNI_COMMAND"));
            default -> throw invalid("CNI_COMMAND " + command + " is not one of ADD, DEL, CHECK, STATUS, GC, VERSION",
                    List.of("CNI_COMMAND"));
        };
    }

    /**
     * The variables of an ADD, DEL or CHECK. A pod without {@code K8S_POD_NAMESPACE} and {@code K8S_POD_NAME} is an
     * error on ADD and CHECK (the plugin cannot tell whether it may start uncaptured); on DEL it is {@code null}.
     */
    static Invocation of(String command, Map<String, String> env) throws CniError {
        List<String> bad = new ArrayList<>();
        List<String> why = new ArrayList<>();
        String containerId = env.getOrDefault("CNI_CONTAINERID", "");
        if (containerId.isEmpty() || containerId.length() > 256 || !CONTAINER_ID.matcher(containerId).matches()) {
            bad.add("CNI_CONTAINERID");
            why.add(containerId.isEmpty() ? "CNI_CONTAINERID is not set"
                    : "CNI_CONTAINERID " + quoted(containerId) + " is not 1-256 of [A-Za-z0-9_.-] starting alphanumeric");
        }
        String netns = env.getOrDefault("CNI_NETNS", "");
        if (netns.isEmpty() && !command.equals("DEL")) {
            bad.add("CNI_NETNS");
            why.add("CNI_NETNS is not set");
        }
        String ifname = env.getOrDefault("CNI_IFNAME", "");
        if (!validInterfaceName(ifname)) {
            bad.add("CNI_IFNAME");
            why.add(ifname.isEmpty() ? "CNI_IFNAME is not set" : "CNI_IFNAME " + quoted(ifname) + " is not an interface name");
        }
        Map<String, String> args = cniArgs(env.getOrDefault("CNI_ARGS", ""));
        String namespace = args.getOrDefault("K8S_POD_NAMESPACE", "");
        String name = args.getOrDefault("K8S_POD_NAME", "");
        Pod pod = null;
        if (!namespace.isEmpty() && !name.isEmpty()) {
            pod = new Pod(namespace, name, args.getOrDefault("K8S_POD_UID", ""));
        } else if (!command.equals("DEL")) {
            bad.add("CNI_ARGS");
            why.add("CNI_ARGS has no " + (namespace.isEmpty() ? "K8S_POD_NAMESPACE" : "K8S_POD_NAME")
                    + " (the runtime passes K8S_POD_NAMESPACE, K8S_POD_NAME and K8S_POD_UID for a Kubernetes pod)");
        }
        if (!bad.isEmpty()) {
            throw invalid(String.join("; ", why), bad);
        }
        return new Invocation(command, containerId, netns, ifname, pod, env.getOrDefault("CNI_PATH", ""));
    }

    /** {@code K=V;K=V}: the spec's "alphanumeric key-value pairs separated by semicolons"; a pair without '=' is ignored. */
    static Map<String, String> cniArgs(String text) {
        Map<String, String> args = new LinkedHashMap<>();
        for (String pair : text.split(";")) {
            int eq = pair.indexOf('=');
            if (eq > 0) {
                args.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
            }
        }
        return args;
    }

    private static boolean validInterfaceName(String name) {
        if (name.isEmpty() || name.length() > 15 || name.equals(".") || name.equals("..")) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c == '/' || c == ':' || Character.isWhitespace(c)) {
                return false;
            }
        }
        return true;
    }

    private static String quoted(String value) {
        return "\"" + (value.length() > 80 ? value.substring(0, 80) + "…" : value) + "\"";
    }

    private static CniError invalid(String details, List<String> variables) {
        return new CniError(CniError.INVALID_ENVIRONMENT, "invalid environment: " + String.join(", ", variables), details);
    }
}
