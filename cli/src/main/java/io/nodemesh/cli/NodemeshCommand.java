package io.nodemesh.cli;

import io.nodemesh.demo.DemoCommand;
import picocli.CommandLine.Command;
import picocli.CommandLine;

/** The {@code nodemesh} command line: the one entry point to every nodemesh process and tool. */
@Command(name = "nodemesh",
        mixinStandardHelpOptions = true,
        versionProvider = NodemeshCommand.Version.class,
        description = "A node-local service-mesh data plane for Kubernetes.",
        subcommands = {
                ProxyCommand.class,
                DemoCommand.class,
                StatusCommand.class,
                WorkloadsCommand.class,
                ServicesCommand.class,
                PoliciesCommand.class,
                CertsCommand.class,
                ConfigDumpCommand.class,
                ConnectionsCommand.class,
                AgentCommand.class,
                TopCommand.class,
                RulesCommand.class,
                CaCommand.class,
                InstallCniCommand.class,
                CniCommand.class,
                CommandLine.HelpCommand.class,
        })
public final class NodemeshCommand implements Runnable {

    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /** Runs the CLI and exits with the command's status. */
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The configured picocli command line, for tests and for {@link #main}. */
    public static CommandLine commandLine() {
        return new CommandLine(new NodemeshCommand())
                .setCaseInsensitiveEnumValuesAllowed(true);
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
