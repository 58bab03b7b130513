package io.nodemesh.cni.install;

import io.nodemesh.cni.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code nodemesh cni status}, read from the node's files as they are now: the plugin in the bin dir, whether the
 * config the runtime uses holds our entry last as the installer wrote it, and the plugin's last ADD, DEL and CHECK
 * ({@code <state dir>/cni-last-<CMD>.json}, docs/cni.md). Every missing or unreadable piece is a plain sentence.
 *
 * @param plugin    the plugin's files
 * @param config    the config's state
 * @param lastCalls the plugin's last ADD, DEL, CHECK, in that order
 */
public record CniStatus(Plugin plugin, Config config, List<LastCall> lastCalls) {

    /** The commands whose last call the plugin records. */
    public static final List<String> COMMANDS = List.of("ADD", "DEL", "CHECK");

    /**
     * The plugin's files in the bin dir.
     *
     * @param binDir      where it was looked for
     * @param installed   the launcher and its directory are both there
     * @param detail      what is there or missing, in words
     * @param files       files of launcher and directory
     * @param bytes       their total size
     * @param javaHome    the Java the launcher runs (its {@code java-home} file, or {@code jre/}); null if none
     * @param installer   the installer's version, from its record; null without one
     * @param installedAt when the installer last wrote the config, from its record; null without one
     */
    public record Plugin(Path binDir, boolean installed, String detail, int files, long bytes, String javaHome,
            String installer, String installedAt) {}

    /**
     * The config's state: {@code in_sync}, {@code out_of_sync}, {@code not_installed}, {@code no_config} or
     * {@code unreadable}.
     *
     * @param confDir the conf dir
     * @param file    the file the runtime uses now; null when there is none
     * @param state   one of the words above
     * @param detail  why, in words
     */
    public record Config(Path confDir, Path file, String state, String detail) {
        public boolean inSync() {
            return "in_sync".equals(state);
        }
    }

    /**
     * The plugin's last call of one command.
     *
     * @param command ADD, DEL or CHECK
     * @param file    where it was read
     * @param call    the file's content; null when missing or unreadable
     * @param problem why there is none ("no ADD yet", unreadable …); null when there is
     */
    public record LastCall(String command, Path file, Map<String, Object> call, String problem) {
        /** Whether the plugin has not made this call since the state dir was made (it is a tmpfs: since boot). */
        public boolean missing() {
            return call == null && ("no " + command + " yet").equals(problem);
        }
    }

    /** Whether the plugin is installed and the config in sync. */
    public boolean inSync() {
        return plugin.installed() && config.inSync();
    }

    /**
     * Reads the status now.
     *
     * @param binDir   the CNI bin dir; null: the one the install record names, else {@code /opt/cni/bin}
     * @param confDir  the CNI config dir
     * @param stateDir the plugin's state dir ({@code stateDir} of its entry)
     */
    public static CniStatus read(Path binDir, Path confDir, Path stateDir) {
        Map<String, Object> record = null;
        String recordProblem = null;
        Path recordFile = confDir.resolve(CniInstaller.STATE_DIR).resolve(CniInstaller.RECORD_FILE);
        try {
            record = CniInstaller.recordJson(confDir);
        } catch (IOException e) {
            recordProblem = recordFile + " is unreadable: " + e.getMessage();
        }
        Path bin = binDir != null ? binDir
                : record != null && record.get("binDir") instanceof String b ? Path.of(b) : Path.of("/opt/cni/bin");
        return new CniStatus(plugin(bin, record), config(confDir, record, recordProblem), lastCalls(stateDir));
    }

    private static Plugin plugin(Path binDir, Map<String, Object> record) {
        PluginFiles.Summary s = PluginFiles.describe(binDir);
        boolean installed = s.launcher() && s.directory();
        String detail = installed ? PluginFiles.LAUNCHER + " and " + PluginFiles.DIR + "/ in " + binDir
                : s.launcher() ? PluginFiles.DIR + "/ is missing from " + binDir + ": the launcher cannot start the plugin"
                : s.directory() ? PluginFiles.LAUNCHER + " is missing from " + binDir + ": the runtime cannot find the plugin"
                : "not installed in " + binDir;
        return new Plugin(binDir, installed, detail, s.files(), s.bytes(), s.javaHome(),
                record == null ? null : (String) record.get("installer"),
                record == null ? null : (String) record.get("installedAt"));
    }

    private static Config config(Path confDir, Map<String, Object> record, String recordProblem) {
        Optional<Path> chosen;
        try {
            chosen = ConfigFiles.chosen(confDir);
        } catch (IOException e) {
            return new Config(confDir, null, "unreadable", confDir + " cannot be listed: " + e.getMessage());
        }
        if (chosen.isEmpty()) {
            return new Config(confDir, null, "no_config", "no CNI config (.conflist, .conf or .json) in " + confDir);
        }
        Path file = chosen.get();
        String name = file.getFileName().toString();
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            return new Config(confDir, file, "unreadable", file + " cannot be read: " + e.getMessage());
        }
        if (recordProblem != null) {
            return new Config(confDir, file, "unreadable", recordProblem);
        }
        if (record == null) {
            boolean ours = hasOurEntry(name, bytes);
            return new Config(confDir, file, ours ? "out_of_sync" : "not_installed", ours
                    ? "a nodemesh entry is in " + name + " but no installer recorded it (" + CniInstaller.STATE_DIR + "/"
                            + CniInstaller.RECORD_FILE + " is missing): run nodemesh install-cni"
                    : "not installed: no nodemesh entry in " + name + ", the config the runtime uses");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> entry = record.get("entry") instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
        String installed = String.valueOf(record.get("config"));
        if (!installed.equals(name)) {
            return new Config(confDir, file, "out_of_sync", name + " comes first now, but the installer put our entry in "
                    + installed + ": the runtime does not run the plugin (the next install-cni repairs this; the "
                    + "DaemonSet's sidecar runs it on such a change)");
        }
        ConfigEdit.Placement placement;
        try {
            placement = ConfigEdit.placement(name, bytes, entry);
        } catch (InstallException e) {
            return new Config(confDir, file, "unreadable", e.getMessage().replace("; nothing written", ""));
        }
        boolean asWritten = AtomicFiles.sha256(bytes).equals(record.get("writtenSha256"));
        return switch (placement) {
            case LAST_AS_WANTED -> new Config(confDir, file, "in_sync", "our entry is last in " + name
                    + (asWritten ? ", as the installer wrote it" : "; the file was changed by another hand since"));
            case ABSENT -> new Config(confDir, file, "out_of_sync", "our entry is missing from " + name
                    + " (rewritten since the install, by its CNI?): pods start uncaptured");
            case NOT_LAST -> new Config(confDir, file, "out_of_sync", "our entry is not last in " + name);
            case DIFFERENT -> new Config(confDir, file, "out_of_sync", "our entry in " + name
                    + " differs from the one the installer wrote");
            case NOT_A_CONFLIST -> new Config(confDir, file, "out_of_sync", name + " is not a conflist: our entry is not in it");
        };
    }

    private static boolean hasOurEntry(String name, byte[] bytes) {
        try {
            return ConfigEdit.placement(name, bytes, Map.of()) != ConfigEdit.Placement.ABSENT
                    && ConfigEdit.placement(name, bytes, Map.of()) != ConfigEdit.Placement.NOT_A_CONFLIST;
        } catch (InstallException e) {
            return false;
        }
    }

    private static List<LastCall> lastCalls(Path stateDir) {
        List<LastCall> calls = new ArrayList<>();
        for (String command : COMMANDS) {
            Path file = stateDir.resolve("cni-last-" + command + ".json");
            try {
                calls.add(new LastCall(command, file, Json.parseObject(Files.readAllBytes(file)), null));
            } catch (NoSuchFileException e) {
                calls.add(new LastCall(command, file, null, "no " + command + " yet"));
            } catch (IOException e) {
                calls.add(new LastCall(command, file, null, file + " is unreadable: " + e.getMessage()));
            }
        }
        return calls;
    }

    /** The status as JSON, for {@code -o json}. */
    public Map<String, Object> toJson() {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("binDir", plugin.binDir().toString());
        p.put("installed", plugin.installed());
        p.put("detail", plugin.detail());
        p.put("files", (long) plugin.files());
        p.put("bytes", plugin.bytes());
        p.put("javaHome", plugin.javaHome());
        p.put("installer", plugin.installer());
        p.put("installedAt", plugin.installedAt());
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("confDir", config.confDir().toString());
        c.put("file", config.file() == null ? null : config.file().toString());
        c.put("state", config.state());
        c.put("detail", config.detail());
        List<Object> calls = new ArrayList<>();
        for (LastCall call : lastCalls) {
            Map<String, Object> l = new LinkedHashMap<>();
            l.put("command", call.command());
            l.put("file", call.file().toString());
            l.put("last", call.call());
            l.put("problem", call.problem());
            calls.add(l);
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("inSync", inSync());
        json.put("plugin", p);
        json.put("config", c);
        json.put("lastCalls", calls);
        return json;
    }
}
