package io.nodemesh.cni.install;

import io.nodemesh.cni.Json;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * {@code nodemesh install-cni}: puts the plugin into the CNI bin dir and our entry last into the config the runtime
 * uses, and takes both out again. Every step is idempotent (a second run changes nothing, not even a file's time), every
 * write atomic, and the state it needs to undo itself byte for byte is kept in {@code <conf dir>/.nodemesh/}: on the
 * node's disk beside the configs, so it survives a reboot as they do, in a directory the runtime never reads as a
 * config (libcni skips directories). One installer works on a conf dir at a time ({@code .nodemesh/lock}).
 */
public final class CniInstaller {

    /** The state directory's name inside the conf dir. */
    public static final String STATE_DIR = ".nodemesh";
    /** The install record's name inside the state directory. */
    public static final String RECORD_FILE = "install.json";
    private static final String ORIGINAL_SUFFIX = ".orig";

    /**
     * Where the installer works.
     *
     * @param binDir       the CNI bin dir ({@code /opt/cni/bin})
     * @param confDir      the CNI config dir ({@code /etc/cni/net.d})
     * @param pluginSource the plugin's build layout ({@code nodemesh-cni}, {@code nodemesh-cni.d/})
     * @param javaHome     the Java the launcher runs, written to {@code nodemesh-cni.d/java-home}; null: the source's
     * @param entry        our conflist entry
     */
    public record Settings(Path binDir, Path confDir, Path pluginSource, Path javaHome, PluginEntry entry) {
        public Settings {
            Objects.requireNonNull(binDir, "binDir");
            Objects.requireNonNull(confDir, "confDir");
            Objects.requireNonNull(pluginSource, "pluginSource");
            Objects.requireNonNull(entry, "entry");
        }
    }

    private final Settings settings;
    private final Clock clock;
    private final PluginFiles plugin;
    private final Map<String, Object> entry;

    public CniInstaller(Settings settings, Clock clock) {
        this.settings = settings;
        this.clock = clock;
        this.plugin = new PluginFiles(settings.pluginSource(), settings.binDir(), settings.javaHome());
        this.entry = settings.entry().toJson();
    }

    public Settings settings() {
        return settings;
    }

    /** Checks what can be checked before anything is written: the plugin source and the Java home. */
    public void validate() throws InstallException {
        plugin.validate();
    }

    /**
     * Installs or repairs: the plugin's files, then our entry last in the config the runtime uses (moved there from the
     * file that held it, if another file now comes first).
     *
     * @return what was changed, one line each; empty when everything was in place
     * @throws InstallException.NoConfig when the conf dir holds no config yet (the plugin is installed all the same)
     */
    public List<String> install() throws InstallException {
        List<String> changes = new ArrayList<>();
        if (plugin.install()) {
            changes.add("installed the plugin: " + plugin.launcher() + " and " + plugin.directory() + "/");
        }
        installConfig(changes);
        return changes;
    }

    /**
     * What the watcher runs on every event and re-check: like {@link #install}, but the plugin's files are compared to
     * the source only when they are no longer as the last install left them (sizes, times, inodes), so a re-check
     * every few seconds does not read the jars and the AOT cache again.
     */
    public List<String> repair() throws InstallException {
        List<String> changes = new ArrayList<>();
        if (!plugin.intact() && plugin.install()) {
            changes.add("repaired the plugin: " + plugin.launcher() + " and " + plugin.directory() + "/");
        }
        installConfig(changes);
        return changes;
    }

    /**
     * Takes our entry out of every config (the original restored byte for byte where the file still holds only our
     * change) and removes the plugin's files and the installer's state.
     *
     * @return what was changed, one line each
     */
    public List<String> uninstall() throws InstallException {
        List<String> changes = new ArrayList<>();
        Path stateDir = stateDir();
        if (Files.isDirectory(stateDir)) {
            try (Held lock = lock()) {
                InstallRecord record = readRecord();
                if (record != null) {
                    revert(record, changes);
                }
                removeStrayEntries(changes);
                PluginFiles.deleteTree(stateDir);
            } catch (IOException | UncheckedIOException e) {
                throw new InstallException(stateDir + ": " + e.getMessage(), e);
            }
        } else {
            removeStrayEntries(changes);
        }
        if (plugin.remove()) {
            changes.add("removed the plugin: " + plugin.launcher() + " and " + plugin.directory() + "/");
        }
        return changes;
    }

    private void installConfig(List<String> changes) throws InstallException {
        Path confDir = settings.confDir();
        Optional<Path> chosen;
        try {
            chosen = ConfigFiles.chosen(confDir);
        } catch (IOException e) {
            throw new InstallException(confDir + ": cannot list the CNI config dir: " + e.getMessage(), e);
        }
        if (chosen.isEmpty()) {
            throw new InstallException.NoConfig(confDir + ": no CNI config (.conflist, .conf or .json) yet: the primary"
                    + " CNI has not written one" + (Files.isDirectory(confDir) ? "" : " (the directory does not exist)"));
        }
        try {
            Files.createDirectories(stateDir());
        } catch (IOException e) {
            throw new InstallException(stateDir() + ": cannot make the installer's state dir: " + e.getMessage(), e);
        }
        try (Held lock = lock()) {
            InstallRecord record = readRecord();
            Path file = chosen.get();
            String name = file.getFileName().toString();
            byte[] bytes;
            try {
                bytes = Files.readAllBytes(file);
            } catch (NoSuchFileException e) {
                throw new InstallException(file + ": went away while the installer read it; will look again");
            }
            InstallRecord written = switch (ConfigEdit.insert(name, bytes, entry)) {
                case ConfigEdit.Outcome.Unchanged u -> unchanged(record, name, bytes);
                case ConfigEdit.Outcome.Rewrite r -> rewrite(record, file, bytes, r.bytes(), changes);
                case ConfigEdit.Outcome.Convert c -> convert(record, file, c.bytes(), changes);
            };
            if (record != null && !record.config().equals(written.config())) {
                // Another file comes first now: ours in the old one is harmless (the runtime reads only the first), but
                // uninstall would have to find it; so the old file goes back to what its CNI wrote.
                revert(record, changes);
            }
        } catch (IOException | UncheckedIOException e) {
            throw new InstallException(confDir + ": " + e.getMessage(), e);
        }
    }

    private InstallRecord unchanged(InstallRecord record, String name, byte[] bytes) throws IOException {
        if (record != null && record.config().equals(name) && entry.equals(record.entry())) {
            return record;
        }
        // Our entry is there as wanted, but no record says so (a lost state dir): uninstall can only take it out.
        InstallRecord fresh = newRecord(name, null, null, bytes);
        writeRecord(fresh);
        return fresh;
    }

    private InstallRecord rewrite(InstallRecord record, Path file, byte[] current, byte[] edited, List<String> changes)
            throws IOException, InstallException {
        String name = file.getFileName().toString();
        String original;
        String convertedFrom = null;
        boolean sameFile = record != null && record.config().equals(name);
        if (sameFile && AtomicFiles.sha256(current).equals(record.writtenSha256())) {
            original = record.original(); // only our entry changes (new settings): the original stays the one we kept
            convertedFrom = record.convertedFrom();
        } else if (sameFile && record.convertedFrom() != null) {
            original = null; // the conflist we made from a .conf, changed by another hand: its .conf stays kept
            convertedFrom = record.convertedFrom();
        } else if (ConfigEdit.remove(name, current) == null) {
            original = name + ORIGINAL_SUFFIX; // what the primary CNI wrote, as it wrote it
            AtomicFiles.write(stateDir().resolve(original), current, AtomicFiles.permissionsOf(file));
        } else {
            original = null; // a nodemesh entry is there already, put by no record we know: uninstall takes ours out
        }
        InstallRecord fresh = newRecord(name, convertedFrom, original, edited);
        writeRecord(fresh); // before the config: a crash in between leaves a record that knows the file
        AtomicFiles.write(file, edited, AtomicFiles.permissionsOf(file));
        changes.add("inserted " + settings.entry().name() + " (" + PluginEntry.TYPE + ") last in " + file
                + (original == null ? "" : " (original kept in " + stateDir().resolve(original) + ")"));
        return fresh;
    }

    private InstallRecord convert(InstallRecord record, Path file, byte[] conflist, List<String> changes)
            throws IOException, InstallException {
        String name = file.getFileName().toString();
        String listName = name.substring(0, name.lastIndexOf('.')) + ".conflist";
        Path list = file.resolveSibling(listName);
        boolean oursBefore = record != null && record.config().equals(listName) && name.equals(record.convertedFrom());
        if (Files.exists(list) && !oursBefore) {
            throw new InstallException(list + " exists beside " + file + ", which the runtime uses: the installer"
                    + " would turn " + name + " into " + listName + " and does not overwrite a file it did not write");
        }
        InstallRecord fresh = newRecord(listName, name, null, conflist);
        writeRecord(fresh);
        // The conflist first: until the .conf moves, the .conf still sorts first and is what the runtime reads.
        AtomicFiles.write(list, conflist, AtomicFiles.permissionsOf(file));
        AtomicFiles.move(file, stateDir().resolve(name));
        AtomicFiles.syncDirectory(file.getParent());
        changes.add("made " + list + " from " + file + " with " + settings.entry().name() + " (" + PluginEntry.TYPE
                + ") last; " + name + " moved to " + stateDir().resolve(name));
        return fresh;
    }

    /** Puts the file of {@code record} back as its CNI left it, as far as it can; then drops its backup. */
    private void revert(InstallRecord record, List<String> changes) throws IOException, InstallException {
        Path confDir = settings.confDir();
        Path file = confDir.resolve(record.config());
        byte[] current = readIfExists(file);
        boolean onlyOurs = current != null && AtomicFiles.sha256(current).equals(record.writtenSha256());
        if (record.convertedFrom() != null) {
            Path conf = confDir.resolve(record.convertedFrom());
            Path backup = stateDir().resolve(record.convertedFrom());
            if (!Files.exists(conf) && Files.exists(backup) && (current == null || onlyOurs)) {
                // The .conf first: it sorts before the .conflist, so the runtime reads it from this instant on.
                AtomicFiles.move(backup, conf);
                AtomicFiles.syncDirectory(confDir);
                changes.add("restored " + conf);
                if (current != null) {
                    Files.delete(file);
                    AtomicFiles.syncDirectory(confDir);
                    changes.add("removed " + file);
                }
                return;
            }
            if (onlyOurs) {
                Files.delete(file); // its .conf is back (its CNI wrote it again): our conflist is just in the way
                changes.add("removed " + file + " (" + conf + " is there again)");
            } else if (current != null) {
                takeOut(file, current, changes);
            }
            if (Files.exists(backup) && Files.exists(conf)) {
                Files.delete(backup);
            } else if (Files.exists(backup)) {
                changes.add(file + " was changed by another hand since: the original " + record.convertedFrom()
                        + " is left in " + backup);
            }
            return;
        }
        Path backup = record.original() == null ? null : stateDir().resolve(record.original());
        if (current == null) {
            // its CNI removed it: nothing to put back
        } else if (onlyOurs && backup != null && Files.exists(backup)) {
            AtomicFiles.write(file, Files.readAllBytes(backup), AtomicFiles.permissionsOf(backup));
            changes.add("restored " + file + " byte for byte");
        } else {
            takeOut(file, current, changes);
        }
        if (backup != null) {
            Files.deleteIfExists(backup);
        }
    }

    private void takeOut(Path file, byte[] current, List<String> changes) throws IOException {
        String name = file.getFileName().toString();
        byte[] without;
        try {
            without = ConfigEdit.remove(name, current);
        } catch (InstallException e) {
            changes.add("left " + file + " alone: " + e.getMessage());
            return;
        }
        if (without != null) {
            AtomicFiles.write(file, without, AtomicFiles.permissionsOf(file));
            changes.add("took our entry out of " + file + " (rewritten since the install: the rest kept as it is now)");
        }
    }

    private void removeStrayEntries(List<String> changes) throws InstallException {
        try {
            for (Path file : ConfigFiles.inOrder(settings.confDir())) {
                byte[] current = readIfExists(file);
                if (current != null) {
                    takeOut(file, current, changes);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            throw new InstallException(settings.confDir() + ": " + e.getMessage(), e);
        }
    }

    private InstallRecord newRecord(String config, String convertedFrom, String original, byte[] written) {
        return new InstallRecord(clock.instant(), version(), settings.binDir(), config, convertedFrom, original,
                AtomicFiles.sha256(written), entry);
    }

    private Path stateDir() {
        return settings.confDir().resolve(STATE_DIR);
    }

    private InstallRecord readRecord() throws IOException, InstallException {
        Path file = stateDir().resolve(RECORD_FILE);
        byte[] bytes = readIfExists(file);
        return bytes == null ? null : InstallRecord.parse(file, bytes);
    }

    private void writeRecord(InstallRecord record) throws IOException {
        AtomicFiles.write(stateDir().resolve(RECORD_FILE), record.toJson(), null);
    }

    /** The conf dir's lock, held while this installer reads and writes there; released when closed. */
    private interface Held extends AutoCloseable {
        @Override
        void close() throws IOException;
    }

    private Held lock() throws IOException {
        FileChannel channel = FileChannel.open(stateDir().resolve("lock"), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        try {
            channel.lock(); // another installer on this node (an old pod of the DaemonSet, uninstall) waits its turn
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
        return channel::close; // closing the channel releases the lock
    }

    static byte[] readIfExists(Path file) throws IOException {
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    /** The installer's version, from the jar's manifest. */
    static String version() {
        String v = CniInstaller.class.getPackage().getImplementationVersion();
        return "nodemesh " + (v == null ? "(development build)" : v);
    }

    /** The install record of a conf dir, as JSON for status; null when there is none. */
    static Map<String, Object> recordJson(Path confDir) throws IOException, Json.JsonException {
        byte[] bytes = readIfExists(confDir.resolve(STATE_DIR).resolve(RECORD_FILE));
        return bytes == null ? null : Json.parseObject(bytes);
    }
}
