package io.nodemesh.daemonset;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Finds the fields of a manifest that its fabric8 model type does not have. fabric8 reads leniently in two ways: a
 * model with an any-setter keeps an unknown field (or one of the wrong type) in {@code getAdditionalProperties()}, and
 * one without (the CRD's {@code JSONSchemaProps}) drops it. So both are looked for: every model object reachable
 * through the getters must have no additional properties, and everything in the document must come back when the
 * model is written out again.
 */
final class StrictModel {

    private StrictModel() {
    }

    /** What of {@code document} (the parsed YAML) {@code model} did not take as one of its fields; empty if all. */
    static List<String> problems(Object model, Object document) {
        List<String> problems = new ArrayList<>();
        walk(model, "", problems, Collections.newSetFromMap(new IdentityHashMap<>()));
        missing(document, Manifests.tree(Manifests.json(model)), "", problems);
        return problems;
    }

    private static void walk(Object value, String path, List<String> problems, Set<Object> seen) {
        if (value == null || !seen.add(value)) {
            return;
        }
        if (value instanceof Collection<?> items) {
            int i = 0;
            for (Object item : items) {
                walk(item, path + "[" + i++ + "]", problems, seen);
            }
            return;
        }
        if (value instanceof Map<?, ?> map) {
            map.forEach((k, v) -> walk(v, path + "." + k, problems, seen));
            return;
        }
        if (!value.getClass().getName().startsWith("io.fabric8.kubernetes.api.model.")) {
            return; // strings, numbers, enums: leaves
        }
        for (Method getter : value.getClass().getMethods()) {
            if (getter.getParameterCount() != 0 || Modifier.isStatic(getter.getModifiers())
                    || getter.getDeclaringClass() == Object.class
                    || !(getter.getName().startsWith("get") || getter.getName().startsWith("is"))) {
                continue;
            }
            Object child;
            try {
                child = getter.invoke(value);
            } catch (IllegalAccessException | InvocationTargetException e) {
                throw new IllegalStateException(getter + " of " + path, e);
            }
            if (getter.getName().equals("getAdditionalProperties") && child instanceof Map<?, ?> extra) {
                if (!extra.isEmpty()) {
                    problems.add((path.isEmpty() ? "" : path + ".") + extra.keySet() + " (unknown to "
                            + value.getClass().getSimpleName() + ")");
                }
                continue;
            }
            walk(child, path + "." + property(getter.getName()), problems, seen);
        }
    }

    /** Each value of {@code expected} that {@code actual} lacks or holds differently, by path. */
    private static void missing(Object expected, Object actual, String path, List<String> problems) {
        if (expected instanceof Map<?, ?> e) {
            if (!(actual instanceof Map<?, ?> a)) {
                problems.add(path + " (dropped)");
                return;
            }
            e.forEach((k, v) -> {
                if (!a.containsKey(k)) {
                    if (!isEmpty(v)) {
                        problems.add(path + "." + k + " (dropped)");
                    }
                } else {
                    missing(v, a.get(k), path + "." + k, problems);
                }
            });
        } else if (expected instanceof List<?> e) {
            if (!(actual instanceof List<?> a) || a.size() != e.size()) {
                problems.add(path + " (not read as written)");
                return;
            }
            for (int i = 0; i < e.size(); i++) {
                missing(e.get(i), a.get(i), path + "[" + i + "]", problems);
            }
        } else if (!Objects.equals(String.valueOf(expected), String.valueOf(actual))) {
            problems.add(path + " (read as " + actual + ", written " + expected + ")");
        }
    }

    private static boolean isEmpty(Object v) {
        return v == null || v instanceof Map<?, ?> m && m.isEmpty() || v instanceof List<?> l && l.isEmpty();
    }

    private static String property(String getter) {
        String name = getter.startsWith("is") ? getter.substring(2) : getter.substring(3);
        return name.isEmpty() ? name : Character.toLowerCase(name.charAt(0)) + name.substring(1);
    }
}
