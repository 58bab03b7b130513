package io.nodemesh.cli;

import io.nodemesh.demo.DemoCommand;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code nodemesh} command line: the one entry point to every nodemesh process and tool. */
@Command(name = "nodemesh",
        mixinStandardHelpOptions = true,
        versionProvider = NodemeshCommand.Version.class,
        description = "A node-local service-mesh data plane for Kubernetes.")
public final class NodemeshCommand implements Runnable {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /**
     * The subcommands' names, in the order help lists them. The subcommands are added in {@link #commandLine(String)}
     * rather than in {@code @Command}, so that a call builds picocli's model of its own subcommand only: picocli reads
     * every option of every command it is given by reflection, in Java 5 class files the JVM's AOT cache cannot hold:
     * building all sixteen cost the proxy's start about 75 ms of its 470 (jmh-bench/RESULTS.md, "The proxy's start:
     * picocli"). A switch, not a map of constructor references: an AOT cache holding a resolved reference to a picocli
     * class, which it cannot hold, crashes the JVM that writes it. NodemeshCommandTest holds the names to the commands'
     * own {@code @Command} names.
     */
    static final List<String> SUBCOMMANDS = List.of("proxy", "demo", "status", "workloads", "services", "policies",
            "certs", "config-dump", "connections", "agent", "top", "rules", "ca", "install-cni", "cni", "help");

    /** A new instance of the subcommand {@code name}, one of {@link #SUBCOMMANDS}. */
    static Object subcommand(String name) {
        return switch (name) {
            case "proxy" -> new ProxyCommand();
            case "demo" -> new DemoCommand();
            case "status" -> new StatusCommand();
            case "workloads" -> new WorkloadsCommand();
            case "services" -> new ServicesCommand();
            case "policies" -> new PoliciesCommand();
            case "certs" -> new CertsCommand();
            case "config-dump" -> new ConfigDumpCommand();
            case "connections" -> new ConnectionsCommand();
            case "agent" -> new AgentCommand();
            case "top" -> new TopCommand();
            case "rules" -> new RulesCommand();
            case "ca" -> new CaCommand();
            case "install-cni" -> new InstallCniCommand();
            case "cni" -> new CniCommand();
            case "help" -> new CommandLine.HelpCommand();
            default -> throw new IllegalArgumentException("no subcommand " + name);
        };
    }

    /** Runs the CLI and exits with the command's status. */
    public static void main(String[] args) {
        System.exit(commandLine(args.length == 0 ? null : args[0]).execute(args));
    }

    /** The configured picocli command line with every subcommand, for tests and for help. */
    public static CommandLine commandLine() {
        return commandLine(null);
    }

    /**
     * The command line for a call whose first argument is {@code first}: with that subcommand alone when it names one
     * (help excepted, which lists them all), else with all of them (no argument, an option, a misspelt name: picocli
     * answers as ever, suggestions included).
     */
    static CommandLine commandLine(String first) {
        CommandLine cli = new CommandLine(new NodemeshCommand());
        if (first != null && !first.equals("help") && SUBCOMMANDS.contains(first)) {
            cli.addSubcommand(first, subcommand(first));
        } else {
            for (String name : SUBCOMMANDS) {
                cli.addSubcommand(name, subcommand(name));
            }
        }
        return cli.setCaseInsensitiveEnumValuesAllowed(true); // after the subcommands: it is passed down to them
    }

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(), "Missing subcommand");
    }

    /** Reports the version baked into the jar's manifest. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = NodemeshCommand.class.getPackage().getImplementationVersion();
            return new String[] {"nodemesh " + (v == null ? "(development build)" : v),
                    "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }
}
