package io.nodemesh.cli;

import io.nodemesh.cni.install.CniInstaller;
import io.nodemesh.cni.install.InstallException;
import io.nodemesh.cni.install.InstallWatcher;
import io.nodemesh.cni.install.PluginEntry;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code nodemesh install-cni}: the CNI plugin into the node's CNI bin dir and last into its conflist (docs/cni.md). */
@Command(name = "install-cni", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Install the CNI plugin and chain it into the node's CNI config.",
                "Copies the plugin (nodemesh-cni and nodemesh-cni.d/) into the CNI bin dir and inserts its entry last in "
                        + "the config the container runtime uses (libcni's rule: the first .conflist, .conf or .json by "
                        + "name; a lone .conf becomes a .conflist). Atomic writes; a second run changes nothing. The "
                        + "original config is kept in CONF_DIR/.nodemesh/ and --uninstall puts it back byte for byte.",
                "With --watch it stays running and repairs what another hand undoes (the primary CNI writing its config "
                        + "again, a config that now comes first, the plugin's files deleted); SIGTERM stops it and leaves "
                        + "everything installed.",
                "Exit status: 0 done, 2 failed (the message names the file and the problem)."})
public final class InstallCniCommand implements Callable<Integer> {

    static final int TROUBLE = 2;

    @Spec
    private CommandSpec spec;

    @Option(names = "--cni-bin-dir", paramLabel = "DIR", defaultValue = "/opt/cni/bin",
            description = "The CNI bin dir (default ${DEFAULT-VALUE}).")
    Path binDir;

    @Option(names = "--cni-conf-dir", paramLabel = "DIR", defaultValue = "/etc/cni/net.d",
            description = "The CNI config dir (default ${DEFAULT-VALUE}).")
    Path confDir;

    @Option(names = "--plugin-source", paramLabel = "DIR",
            description = "Where the plugin's build is (nodemesh-cni, nodemesh-cni.d/); default: ../cni beside nodemesh.jar.")
    Path pluginSource;

    @Option(names = "--java-home", paramLabel = "DIR",
            description = "The JDK or JRE on the node the plugin runs on (written to nodemesh-cni.d/java-home); "
                    + "default: as in the plugin's build.")
    Path javaHome;

    @Option(names = "--watch", description = "Stay running: wait for a config, repair, until SIGTERM.")
    boolean watch;

    @Option(names = "--recheck-interval", paramLabel = "DURATION", defaultValue = "5s", converter = DurationConverter.class,
            description = "With --watch: how often to look without a file event (default ${DEFAULT-VALUE}).")
    Duration recheck;

    @Option(names = "--uninstall", description = "Take our entry out of the config (the original back byte for byte "
            + "where only our change is in it) and remove the plugin's files.")
    boolean uninstall;

    @Option(names = "--plugin-name", paramLabel = "NAME", defaultValue = PluginEntry.DEFAULT_NAME,
            description = "The entry's name (default ${DEFAULT-VALUE}).")
    String pluginName;

    @Option(names = "--control-socket", paramLabel = "PATH", defaultValue = PluginEntry.DEFAULT_CONTROL_SOCKET,
            description = "The proxy's control socket (default ${DEFAULT-VALUE}).")
    Path controlSocket;

    @Option(names = "--enrolment-file", paramLabel = "PATH", defaultValue = PluginEntry.DEFAULT_ENROLMENT_FILE,
            description = "The proxy's enrolment file (default ${DEFAULT-VALUE}).")
    Path enrolmentFile;

    @Option(names = "--state-dir", paramLabel = "DIR", defaultValue = PluginEntry.DEFAULT_STATE_DIR,
            description = "Where the plugin writes its last results (default ${DEFAULT-VALUE}).")
    Path stateDir;

    @Option(names = "--exclude-namespaces", paramLabel = "NS[,NS…]", split = ",",
            description = "Namespaces the plugin never asks about (default kube-system,nodemesh-system; \"\" for none).")
    List<String> excludeNamespaces = new ArrayList<>(PluginEntry.DEFAULT_EXCLUDED);

    @Option(names = "--timeout-seconds", paramLabel = "N", defaultValue = "" + PluginEntry.DEFAULT_TIMEOUT_SECONDS,
            description = "How long ADD waits for the proxy (default ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (watch && uninstall) {
            throw new ParameterException(spec.commandLine(), "--watch and --uninstall: choose one");
        }
        PluginEntry entry;
        try {
            entry = new PluginEntry(pluginName, controlSocket, enrolmentFile, stateDir,
                    excludeNamespaces.stream().filter(ns -> !ns.isBlank()).map(String::strip).toList(), timeoutSeconds);
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
        if (recheck.isZero() || recheck.isNegative()) {
            throw new ParameterException(spec.commandLine(), "--recheck-interval must be more than 0");
        }
        Path source = pluginSource != null ? pluginSource : defaultPluginSource();
        CniInstaller installer = new CniInstaller(new CniInstaller.Settings(binDir, confDir, source, javaHome, entry),
                Clock.systemUTC());
        try {
            if (uninstall) {
                List<String> changes = installer.uninstall();
                changes.forEach(out::println);
                if (changes.isEmpty()) {
                    out.println("nothing to remove: no nodemesh entry in " + confDir + ", no plugin in " + binDir);
                }
                out.flush();
                return 0;
            }
            List<String> changes;
            try {
                changes = installer.install();
            } catch (InstallException.NoConfig e) {
                if (!watch) {
                    throw e;
                }
                changes = List.of(); // the watcher says it waits
            }
            changes.forEach(out::println);
            if (changes.isEmpty() && !watch) {
                out.println("nothing to do: the plugin is in " + binDir + " and chained last in the config of " + confDir);
            }
            out.flush();
        } catch (InstallException e) {
            err.println("nodemesh install-cni: " + e.getMessage());
            err.flush();
            return TROUBLE;
        }
        return watch ? watch(installer, out) : 0;
    }

    private int watch(CniInstaller installer, PrintWriter out) throws IOException {
        InstallWatcher watcher = new InstallWatcher(installer, recheck, line -> {
            out.println(line);
            out.flush();
        });
        Thread hook = new Thread(() -> {
            try {
                watcher.stop(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            out.println("stopped watching; the plugin stays installed and chained");
            out.flush();
        }, "install-cni-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        out.println("watching " + confDir + " and " + binDir + " (and looking every " + recheck.toMillis() + " ms)");
        out.flush();
        watcher.run();
        return 0;
    }

    /** {@code <dir of nodemesh.jar>/../cni}; in a build tree, {@code cni-plugin/target/cni} beside {@code cli/}. */
    static Path defaultPluginSource() {
        try {
            Path jar = Path.of(InstallCniCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            Path installed = jar.getParent().resolveSibling("cni");
            Path buildTree = jar.getParent().getParent().resolveSibling("cni-plugin").resolve("target/cni");
            return Files.isDirectory(installed) || !Files.isDirectory(buildTree) ? installed : buildTree;
        } catch (URISyntaxException | RuntimeException e) {
            return Path.of("cni");
        }
    }
}
