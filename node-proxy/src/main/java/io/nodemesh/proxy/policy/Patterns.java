package io.nodemesh.proxy.policy;

import java.util.List;

/** Istio's string matching for principals and namespaces: exact, {@code *}, a {@code prefix*} or a {@code *suffix}. */
final class Patterns {

    private Patterns() {
    }

    static boolean matches(String pattern, String value) {
        if (pattern.equals("*")) {
            return true;
        }
        if (pattern.endsWith("*")) {
            return value.startsWith(pattern.substring(0, pattern.length() - 1));
        }
        if (pattern.startsWith("*")) {
            return value.endsWith(pattern.substring(1));
        }
        return pattern.equals(value);
    }

    static boolean anyMatch(List<String> patterns, String value) {
        for (String p : patterns) {
            if (matches(p, value)) {
                return true;
            }
        }
        return false;
    }
}
