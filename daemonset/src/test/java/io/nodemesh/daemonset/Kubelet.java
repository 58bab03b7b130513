package io.nodemesh.daemonset;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the kubelet makes of a container's {@code env} and {@code args}: each variable's value (literal, or the pod's
 * field through the downward API) and the {@code $(VAR)} references expanded. Stricter than the kubelet, which leaves
 * an unknown reference as written: here it fails, since in our manifests it can only be a typo.
 */
final class Kubelet {

    private static final Pattern REFERENCE = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)");

    private final String nodeName;
    private final String podName;
    private final String namespace;

    /** A kubelet on node {@code nodeName} starting pod {@code podName} of {@code namespace}. */
    Kubelet(String nodeName, String podName, String namespace) {
        this.nodeName = nodeName;
        this.podName = podName;
        this.namespace = namespace;
    }

    /** The container's environment, in the manifest's order; a value may refer to variables defined before it. */
    Map<String, String> env(Container c) {
        Map<String, String> env = new LinkedHashMap<>();
        for (EnvVar var : c.getEnv()) {
            String value = var.getValue() != null ? expand(c.getName(), var.getValue(), env) : field(c, var);
            env.put(var.getName(), value);
        }
        return env;
    }

    /** The container's {@code args} with every {@code $(VAR)} replaced from its environment. */
    List<String> args(Container c) {
        Map<String, String> env = env(c);
        return c.getArgs().stream().map(a -> expand(c.getName(), a, env)).toList();
    }

    private String field(Container c, EnvVar var) {
        if (var.getValueFrom() == null || var.getValueFrom().getFieldRef() == null) {
            throw new AssertionError(c.getName() + ": env " + var.getName() + " comes from neither a value nor a "
                    + "field of the pod; teach Kubelet where it comes from");
        }
        String path = var.getValueFrom().getFieldRef().getFieldPath();
        return switch (path) {
            case "spec.nodeName" -> nodeName;
            case "metadata.name" -> podName;
            case "metadata.namespace" -> namespace;
            default -> throw new AssertionError(c.getName() + ": env " + var.getName() + " from " + path
                    + ", which Kubelet does not supply");
        };
    }

    private static String expand(String container, String text, Map<String, String> env) {
        Matcher m = REFERENCE.matcher(text);
        StringBuilder out = new StringBuilder();
        while (m.find()) {
            String value = env.get(m.group(1));
            if (value == null) {
                throw new AssertionError(container + ": " + text + " names no env var defined before it");
            }
            m.appendReplacement(out, Matcher.quoteReplacement(value));
        }
        return m.appendTail(out).toString();
    }
}
