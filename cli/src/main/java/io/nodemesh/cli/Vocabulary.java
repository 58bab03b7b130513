package io.nodemesh.cli;

import io.nodemesh.proxy.model.Outcome;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The words and units of every view of connections ({@code status}, {@code connections}, {@code top}, the demo), so
 * that they read the same everywhere. {@link #BYTES_OUT}: bytes from a connection's source toward its destination;
 * {@link #BYTES_BACK}: bytes from the destination back to the source. Sizes in IEC units ({@code 830 B},
 * {@code 4.0 KiB}, {@code 1.2 MiB}); outcomes as {@code OK 20, RESET 1}. README's "Debugging a node" says the same.
 */
public final class Vocabulary {

    /** Column name: bytes from the source toward the destination. */
    public static final String BYTES_OUT = "BYTES OUT";
    /** Column name: bytes from the destination back to the source. */
    public static final String BYTES_BACK = "BYTES BACK";

    private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};

    private Vocabulary() {
    }

    /** {@code 830 B}, {@code 4.0 KiB}, {@code 640 KiB}, {@code 1.2 MiB}: one decimal below 100, none above. */
    public static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        double value = n;
        int unit = 0;
        while (value >= 1024 && unit < UNITS.length - 1) {
            value /= 1024;
            unit++;
        }
        String number = value < 99.95 ? String.format(Locale.ROOT, "%.1f", value)
                : String.format(Locale.ROOT, "%.0f", value);
        return number + " " + UNITS[unit];
    }

    /** {@code OK 20, RESET 1}: outcomes in the order of {@link Outcome}, names nobody knows yet last; "none" if empty. */
    public static String outcomes(Map<String, Long> counts) {
        List<Map.Entry<String, Long>> entries = new ArrayList<>(counts.entrySet());
        entries.sort(Comparator.comparingInt((Map.Entry<String, Long> e) -> order(e.getKey()))
                .thenComparing(Map.Entry::getKey));
        StringBuilder text = new StringBuilder();
        for (Map.Entry<String, Long> e : entries) {
            text.append(text.isEmpty() ? "" : ", ").append(e.getKey()).append(' ').append(e.getValue());
        }
        return text.isEmpty() ? "none" : text.toString();
    }

    private static int order(String outcome) {
        for (Outcome o : Outcome.values()) {
            if (o.name().equals(outcome)) {
                return o.ordinal();
            }
        }
        return Integer.MAX_VALUE;
    }
}
