package io.nodemesh.cli;

import io.nodemesh.cni.Json;
import io.nodemesh.cni.install.CniStatus;
import io.nodemesh.cni.install.PluginEntry;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code nodemesh cni}: the CNI plugin on this node. */
@Command(name = "cni", mixinStandardHelpOptions = true,
        description = "Show the CNI plugin on this node and its last calls.",
        subcommands = CniCommand.Status.class)
public final class CniCommand implements Runnable {

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing subcommand: status");
    }

    /** {@code cni status}: read from the node's files now, no daemon asked. */
    @Command(name = "status", mixinStandardHelpOptions = true,
            description = {"Show where the CNI plugin is installed, whether the config the runtime uses holds its "
                    + "entry last as install-cni wrote it, and the plugin's last ADD, DEL and CHECK.",
                    "Exit status: 0 installed and in sync, 1 not (the output says what is missing), 2 a bad argument."})
    static final class Status implements Callable<Integer> {

        @Spec
        CommandSpec spec;

        @Option(names = "--cni-bin-dir", paramLabel = "DIR",
                description = "The CNI bin dir (default: where install-cni put the plugin, else /opt/cni/bin).")
        Path binDir;

        @Option(names = "--cni-conf-dir", paramLabel = "DIR", defaultValue = "/etc/cni/net.d",
                description = "The CNI config dir (default ${DEFAULT-VALUE}).")
        Path confDir;

        @Option(names = "--state-dir", paramLabel = "DIR", defaultValue = PluginEntry.DEFAULT_STATE_DIR,
                description = "Where the plugin writes cni-last-ADD.json etc. (default ${DEFAULT-VALUE}).")
        Path stateDir;

        @Option(names = "-o", paramLabel = "table|json", description = "Output: table (default) or json.")
        String output = OutputFormat.TABLE;

        @Override
        public Integer call() {
            PrintWriter out = spec.commandLine().getOut();
            if (!OutputFormat.check(output, "cni status", spec.commandLine().getErr())) {
                return 2;
            }
            CniStatus status = CniStatus.read(binDir, confDir, stateDir);
            if (OutputFormat.JSON.equals(output)) {
                OutputFormat.printJson(out, new String(Json.writePretty(status.toJson()), StandardCharsets.UTF_8));
            } else {
                print(status, out);
            }
            return status.inSync() ? 0 : 1;
        }

        private static void print(CniStatus status, PrintWriter out) {
            CniStatus.Plugin p = status.plugin();
            String plugin = p.installed()
                    ? "installed: " + p.detail() + " (" + p.files() + " files, " + Vocabulary.bytes(p.bytes())
                            + (p.javaHome() == null ? "; no java-home file or jre/: the launcher finds no Java"
                                    : "; java " + p.javaHome()) + ")"
                    : p.detail();
            String installedBy = p.installedAt() == null ? "" : " (installed " + p.installedAt() + " by " + p.installer() + ")";
            CniStatus.Config c = status.config();
            out.println("plugin:  " + plugin);
            out.println("config:  " + c.state().replace('_', ' ') + ": " + c.detail()
                    + (c.file() == null ? "" : " [" + c.file() + "]") + installedBy);
            out.println();
            TextTable table = new TextTable("LAST", "RESULT", "POD", "CONTAINER", "AT", "MILLIS", "ERROR");
            for (CniStatus.LastCall call : status.lastCalls()) {
                Map<String, Object> last = call.call();
                if (last == null && call.missing()) {
                    table.row(call.command(), call.problem(), null, null, null, null, null);
                } else if (last == null) {
                    table.row(call.command(), "unreadable", null, null, null, null, call.problem());
                } else {
                    table.row(call.command(), last.get("result"), last.get("pod"), shortId(last.get("containerId")),
                            last.get("at"), last.get("millis"), error(last));
                }
            }
            table.print(out);
            out.flush();
        }

        private static Object shortId(Object id) {
            return id instanceof String s && s.length() > 12 ? s.substring(0, 12) : id;
        }

        private static Object error(Map<String, Object> last) {
            Object error = last.get("error");
            if (error == null || "".equals(error)) {
                return null;
            }
            return last.get("code") == null ? error : error + " (code " + last.get("code") + ")";
        }
    }
}
