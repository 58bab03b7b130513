package io.nodemesh.cli;

import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.lang.reflect.Field;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import picocli.CommandLine;

/**
 * The entry point of the debugging commands ({@code status}, {@code connections}, {@code top}) that
 * {@code bin/nodemesh} starts instead of {@link NodemeshCommand}, so that an operator's call answers in a blink. A call
 * whose arguments are only the command's own {@code --name value} options runs without picocli: picocli's classes are
 * Java 5 class files, which the JVM's AOT cache cannot hold, and loading and running them took longer than the whole
 * rest of the command (jmh-bench/RESULTS.md, cli-startup). Anything else (help, a bad value, an unknown option) goes to
 * picocli with the same command, which answers as under {@code nodemesh}.
 */
public final class DebugCli {

    private static final Pattern DECIMAL = Pattern.compile("-?[0-9]{1,9}");

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
        switch (name) {
            case "status" -> {
                StatusCommand command = new StatusCommand();
                return bind(command, options) ? command.run(out, err) : picocli(command, name, options, out, err);
            }
            case "connections" -> {
                ConnectionsCommand command = new ConnectionsCommand();
                return bind(command, options) ? command.run(out, err) : picocli(command, name, options, out, err);
            }
            case "top" -> {
                TopCommand command = new TopCommand();
                return bind(command, options) ? command.run(out, err) : picocli(command, name, options, out, err);
            }
            default -> {
                return NodemeshCommand.commandLine().setOut(out).setErr(err).execute(args);
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
     * Sets {@code command}'s {@link CommandLine.Option} fields from {@code --name value} and {@code --name=value}, the
     * way picocli does for single-valued options of type int, String or with a converter. Returns false, leaving the
     * rest to picocli, on anything else: an option the command lacks (help and version among them), one given twice
     * or without a value, a value that looks like an option or does not convert.
     */
    static boolean bind(Object command, String[] args) {
        Map<String, Field> fields = new HashMap<>();
        for (Field field : command.getClass().getDeclaredFields()) {
            CommandLine.Option option = field.getAnnotation(CommandLine.Option.class);
            if (option != null) {
                for (String optionName : option.names()) {
                    fields.put(optionName, field);
                }
            }
        }
        Set<Field> given = new HashSet<>();
        for (int i = 0; i < args.length; i++) {
            int equals = args[i].indexOf('=');
            boolean attached = args[i].startsWith("--") && equals > 0;
            Field field = fields.get(attached ? args[i].substring(0, equals) : args[i]);
            if (field == null || !given.add(field)) {
                return false;
            }
            String value;
            if (attached) {
                value = args[i].substring(equals + 1);
            } else if (i + 1 < args.length) {
                value = args[++i];
            } else {
                return false;
            }
            Object converted = convert(field, value);
            if (converted == null) {
                return false;
            }
            try {
                field.setAccessible(true);
                field.set(command, converted);
            } catch (IllegalAccessException | RuntimeException e) {
                return false;
            }
        }
        return true;
    }

    /** {@code value} as the field's type, or null when picocli should be the one to judge it. */
    private static Object convert(Field field, String value) {
        if (value.isEmpty() || value.startsWith("-")) {
            return null;
        }
        Class<?> type = field.getType();
        if (type == int.class) {
            return DECIMAL.matcher(value).matches() ? Integer.valueOf(value) : null;
        }
        if (type == String.class) {
            return value;
        }
        Class<? extends CommandLine.ITypeConverter<?>>[] converters = field.getAnnotation(CommandLine.Option.class).converter();
        if (converters.length != 1) {
            return null;
        }
        try {
            Object converted = converters[0].getDeclaredConstructor().newInstance().convert(value);
            return type.isInstance(converted) ? converted : null;
        } catch (Exception e) {
            return null;
        }
    }
}
