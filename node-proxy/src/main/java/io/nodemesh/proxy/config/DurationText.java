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
}
