package io.nodemesh.bench.load;

import io.nodemesh.proxy.config.HostPort;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** Shared plumbing of the load tools' {@code main} methods: parsing, converters, the JSON result line. */
final class LoadCli {

    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|us|s|m)?");

    private LoadCli() {
    }

    /** A tool's command; {@code call()} returns the result to print as JSON, or null. */
    interface Tool extends Callable<Object> {
    }

    /** Parses {@code args} into {@code tool}, runs it, prints its result as one JSON line; returns the exit code. */
    static int run(Tool tool, String[] args) {
        CommandLine cl = new CommandLine(tool).setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
            cmd.getErr().println(cmd.getCommandName() + ": " + e.getMessage());
            return 1;
        });
        int code = cl.execute(args);
        Object result = cl.getExecutionResult();
        if (code == 0 && result != null) {
            printJson(result);
        }
        return code;
    }

    static void printJson(Object value) {
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        out.println(ResultJson.write(value));
        out.flush();
    }

    /** {@code 10s}, {@code 500ms}, {@code 100us}, {@code 2m}, or plain seconds. */
    static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("expected a duration like 10s, 500ms or 2m, got '" + text + "'");
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2);
        double nanos = value * switch (unit) {
            case "ms" -> 1e6;
            case "us" -> 1e3;
            case "m" -> 60e9;
            default -> 1e9;
        };
        return Duration.ofNanos((long) nanos);
    }

    /** picocli converter for {@link #parseDuration}. */
    static final class DurationConverter implements CommandLine.ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return parseDuration(value);
        }
    }

    /** picocli converter for {@link HostPort#parse}. */
    static final class AddressConverter implements CommandLine.ITypeConverter<InetSocketAddress> {
        @Override
        public InetSocketAddress convert(String value) {
            return HostPort.parse(value);
        }
    }
}
