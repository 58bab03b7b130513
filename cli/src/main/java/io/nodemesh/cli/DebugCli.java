package io.nodemesh.cli;

import io.nodemesh.proxy.config.HostPort;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * The entry point of the debugging commands ({@code status}, {@code connections}, {@code top}, {@code workloads},
 * {@code services}, {@code config-dump}) that
 * {@code bin/nodemesh} starts instead of {@link NodemeshCommand}, so that an operator's call answers in a blink. A call
 * whose arguments are only the command's own {@code --name value} options runs without picocli: picocli's classes are
 * Java 5 class files, which the JVM's AOT cache cannot hold, and loading and running them took longer than the whole
 * rest of the command (jmh-bench/RESULTS.md, cli-startup). Anything else (help, a bad value, an unknown option) goes to
 * picocli with the same command, which answers as under {@code nodemesh}.
 */
public final class DebugCli {

    /** The options {@link #bind} sets without picocli, per command (DebugCliTest checks them against picocli's). */
    static final Map<Class<?>, Set<String>> OPTIONS = Map.of(
            StatusCommand.class, Set.of("--admin", "-o"),
            ConnectionsCommand.class, Set.of("--admin", "--pod", "-n", "-o"),
            TopCommand.class, Set.of("--metrics-address", "-n", "-o"),
            WorkloadsCommand.class, Set.of("--admin", "-n", "-o"),
            ServicesCommand.class, Set.of("--admin", "-n", "-o"),
            ConfigDumpCommand.class, Set.of("--admin", "-o"));

    private static final Pattern DECIMAL = Pattern.compile("[0-9]{1,9}");

    private DebugCli() {
    }

    /** Runs {@code args[0]}, a debugging command, with the remaining arguments and exits with its status. */
    public static void main(String[] args) {
        PrintWriter out = new PrintWriter(new OutputStreamWriter(System.out, System.out.charset()));
        PrintWriter err = new PrintWriter(new OutputStreamWriter(System.err, System.err.charset()), true);
        int status = run(args, out, err);
        out.flush();
        err.flush();
        System.exit(status);
    }

    /** Runs one debugging command, writing to {@code out} and {@code err}; other names go to the whole command line. */
    static int run(String[] args, PrintWriter out, PrintWriter err) {
        String name = args.length == 0 ? "" : args[0];
        String[] options = args.length == 0 ? args : Arrays.copyOfRange(args, 1, args.length);
        // picocli gets a fresh command: bind() may have set some options before it declined.
        switch (name) {
            case "status" -> {
                StatusCommand command = new StatusCommand();
                return bind(command, options) ? command.run(out, err) : picocli(new StatusCommand(), name, options, out, err);
            }
            case "connections" -> {
                ConnectionsCommand command = new ConnectionsCommand();
                return bind(command, options) ? command.run(out, err) : picocli(new ConnectionsCommand(), name, options, out, err);
            }
            case "top" -> {
                TopCommand command = new TopCommand();
                return bind(command, options) ? command.run(out, err) : picocli(new TopCommand(), name, options, out, err);
            }
            case "workloads" -> {
                WorkloadsCommand command = new WorkloadsCommand();
                return bind(command, options) ? command.run(out, err)
                        : picocli(new WorkloadsCommand(), name, options, out, err);
            }
            case "services" -> {
                ServicesCommand command = new ServicesCommand();
                return bind(command, options) ? command.run(out, err)
                        : picocli(new ServicesCommand(), name, options, out, err);
            }
            case "config-dump" -> {
                ConfigDumpCommand command = new ConfigDumpCommand();
                return bind(command, options) ? command.run(out, err)
                        : picocli(new ConfigDumpCommand(), name, options, out, err);
            }
            default -> {
                return NodemeshCommand.commandLine(name.isEmpty() ? null : name).setOut(out).setErr(err).execute(args);
            }
        }
    }

    private static int picocli(Object command, String name, String[] options, PrintWriter out, PrintWriter err) {
        return new CommandLine(command)
                .setCommandName("nodemesh " + name)
                .setCaseInsensitiveEnumValuesAllowed(true)
                .setOut(out)
                .setErr(err)
                .execute(options);
    }

    /**
     * Sets {@code command}'s options from {@code --name value} and {@code --name=value} the way picocli does for these
     * single-valued options, without reading their annotations (that alone took ~35 ms: annotation proxies, picocli's
     * Java 5 classes). Returns false, leaving the rest to picocli, on anything else: an option the command lacks (help
     * and version among them), one given twice or without a value, a value that looks like an option or does not
     * convert.
     */
    static boolean bind(Object command, String[] args) {
        Set<String> names = OPTIONS.get(command.getClass());
        Map<String, String> given = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            int equals = args[i].indexOf('=');
            boolean attached = args[i].startsWith("--") && equals > 0;
            String name = attached ? args[i].substring(0, equals) : args[i];
            String value = attached ? args[i].substring(equals + 1) : i + 1 < args.length ? args[++i] : null;
            if (names == null || !names.contains(name) || given.containsKey(name) || value == null
                    || value.isEmpty() || value.startsWith("-")) {
                return false;
            }
            given.put(name, value);
        }
        switch (command) {
            case StatusCommand status -> {
                text(given, "-o", o -> status.output = o);
                return admin(given, a -> status.admin = a);
            }
            case ConnectionsCommand connections -> {
                text(given, "--pod", p -> connections.pod = p);
                text(given, "-o", o -> connections.output = o);
                return admin(given, a -> connections.admin = a) && number(given, "-n", n -> connections.recent = n);
            }
            case TopCommand top -> {
                text(given, "-o", o -> top.output = o);
                return address(given, "--metrics-address", a -> top.metricsAddress = a)
                        && number(given, "-n", n -> top.n = n);
            }
            case WorkloadsCommand workloads -> {
                text(given, "-n", n -> workloads.namespace = n);
                text(given, "-o", o -> workloads.output = o);
                return admin(given, a -> workloads.admin = a);
            }
            case ServicesCommand services -> {
                text(given, "-n", n -> services.namespace = n);
                text(given, "-o", o -> services.output = o);
                return admin(given, a -> services.admin = a);
            }
            case ConfigDumpCommand dump -> {
                text(given, "-o", o -> dump.output = o);
                return admin(given, a -> dump.admin = a);
            }
            default -> {
                return false;
            }
        }
    }

    private static void text(Map<String, String> given, String name, Consumer<String> set) {
        if (given.containsKey(name)) {
            set.accept(given.get(name));
        }
    }

    private static boolean admin(Map<String, String> given, Consumer<AdminAddress> set) {
        if (!given.containsKey("--admin")) {
            return true;
        }
        AdminAddress address;
        try {
            address = AdminAddress.parse(given.get("--admin"));
        } catch (IllegalArgumentException e) {
            return false; // picocli takes over and says what is wrong, as the full command line would
        }
        set.accept(address);
        return true;
    }

    private static boolean address(Map<String, String> given, String name, Consumer<InetSocketAddress> set) {
        if (!given.containsKey(name)) {
            return true;
        }
        InetSocketAddress address;
        try {
            address = HostPort.parse(given.get(name));
        } catch (IllegalArgumentException e) {
            return false; // picocli takes over and says what is wrong, as the full command line would
        }
        set.accept(address);
        return true;
    }

    private static boolean number(Map<String, String> given, String name, IntConsumer set) {
        if (!given.containsKey(name)) {
            return true;
        }
        if (!DECIMAL.matcher(given.get(name)).matches()) {
            return false;
        }
        set.accept(Integer.parseInt(given.get(name)));
        return true;
    }
}
