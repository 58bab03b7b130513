package io.nodemesh.proxy.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The one way durations are written in config files and on the command line: a number and a unit, e.g. {@code 5s}. */
public final class DurationText {

    private static final Pattern FORM = Pattern.compile("(\\d+)(ms|s|m|h|d)");

    /** What {@link #parse} accepts, for error messages. */
    public static final String EXPECTED = "a number and a unit: ms, s, m, h or d, e.g. 5s";

    private DurationText() {
    }

    /**
     * Reads {@code <number><ms|s|m|h|d>}.
     *
     * @throws IllegalArgumentException if {@code text} is not of that form
     */
    public static Duration parse(String text) {
        Matcher m = FORM.matcher(text);
        if (!m.matches()) {
            throw new IllegalArgumentException("'" + text + "' is not a duration (" + EXPECTED + ")");
        }
        long n = Long.parseLong(m.group(1));
        return switch (m.group(2)) {
            case "ms" -> Duration.ofMillis(n);
            case "s" -> Duration.ofSeconds(n);
            case "m" -> Duration.ofMinutes(n);
            case "h" -> Duration.ofHours(n);
            default -> Duration.ofDays(n);
        };
    }

    /**
     * Writes {@code d} as {@link #parse} reads it, in the largest unit that divides it: 90 s is {@code 90s}, 180 s
     * {@code 3m}.
     */
    public static String format(Duration d) {
        long ms = d.toMillis();
        long[] units = {86_400_000, 3_600_000, 60_000, 1000};
        String[] names = {"d", "h", "m", "s"};
        for (int i = 0; i < units.length; i++) {
            if (ms != 0 && ms % units[i] == 0) {
                return ms / units[i] + names[i];
            }
        }
        return ms + "ms";
    }
}
