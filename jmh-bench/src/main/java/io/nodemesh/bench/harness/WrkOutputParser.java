package io.nodemesh.bench.harness;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Reads the text {@code wrk --latency} prints into a {@link WrkResult}. */
public final class WrkOutputParser {

    private static final Pattern LATENCY_LINE =
            Pattern.compile("^\\s*Latency\\s+(\\S+)\\s+(\\S+)\\s+(\\S+)\\s+\\S+%\\s*$", Pattern.MULTILINE);
    private static final Pattern PERCENTILE =
            Pattern.compile("^\\s*(50|75|90|99)%\\s+(\\S+)\\s*$", Pattern.MULTILINE);
    private static final Pattern TOTAL =
            Pattern.compile("^\\s*(\\d+) requests in ([0-9.]+)(us|ms|s|m|h),", Pattern.MULTILINE);
    private static final Pattern RATE = Pattern.compile("^Requests/sec:\\s+([0-9.]+)\\s*$", Pattern.MULTILINE);
    private static final Pattern SOCKET_ERRORS = Pattern.compile(
            "Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)");
    private static final Pattern NON_2XX = Pattern.compile("Non-2xx or 3xx responses: (\\d+)");

    private WrkOutputParser() {
    }

    /**
     * Parses wrk's standard output.
     *
     * @throws IllegalArgumentException naming the missing part when the text is not a complete
     *         {@code wrk --latency} report (e.g. wrk failed to connect at all)
     */
    public static WrkResult parse(String out) {
        Matcher latency = require(LATENCY_LINE, out, "the 'Latency' thread-stats line");
        double max = micros(latency.group(3));
        double[] pct = new double[4];
        boolean[] seen = new boolean[4];
        Matcher m = PERCENTILE.matcher(out);
        while (m.find()) {
            int i = switch (m.group(1)) {
                case "50" -> 0;
                case "75" -> 1;
                case "90" -> 2;
                default -> 3;
            };
            pct[i] = micros(m.group(2));
            seen[i] = true;
        }
        for (boolean s : seen) {
            if (!s) {
                throw new IllegalArgumentException("wrk output has no complete 'Latency Distribution' (run wrk with --latency):\n" + out);
            }
        }
        Matcher total = require(TOTAL, out, "the '<n> requests in <t>' line");
        long requests = Long.parseLong(total.group(1));
        double seconds = micros(total.group(2) + total.group(3)) / 1e6;
        double rate = Double.parseDouble(require(RATE, out, "the 'Requests/sec:' line").group(1));
        long socketErrors = 0;
        Matcher se = SOCKET_ERRORS.matcher(out);
        if (se.find()) {
            for (int g = 1; g <= 4; g++) {
                socketErrors += Long.parseLong(se.group(g));
            }
        }
        Matcher bad = NON_2XX.matcher(out);
        long non2xx = bad.find() ? Long.parseLong(bad.group(1)) : 0;
        return new WrkResult(requests, seconds, rate, pct[0], pct[1], pct[2], pct[3], max, socketErrors, non2xx);
    }

    /** Converts one of wrk's time figures ({@code 812.00us}, {@code 1.20ms}, {@code 2.00s}, {@code 1.00m}) to microseconds. */
    static double micros(String figure) {
        Matcher m = Pattern.compile("^([0-9.]+)(us|ms|s|m|h)$").matcher(figure);
        if (!m.matches()) {
            throw new IllegalArgumentException("not a wrk time figure: '" + figure + "'");
        }
        double v = Double.parseDouble(m.group(1));
        return switch (m.group(2)) {
            case "us" -> v;
            case "ms" -> v * 1e3;
            case "s" -> v * 1e6;
            case "m" -> v * 60e6;
            default -> v * 3600e6;
        };
    }

    private static Matcher require(Pattern p, String out, String what) {
        Matcher m = p.matcher(out);
        if (!m.find()) {
            throw new IllegalArgumentException("wrk output lacks " + what + ":\n" + out);
        }
        return m;
    }
}
