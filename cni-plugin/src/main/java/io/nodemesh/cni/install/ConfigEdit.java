package io.nodemesh.cni.install;

import io.nodemesh.cni.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The edits the installer makes to one CNI config, as pure functions of its bytes: our entry last in its
 * {@code plugins} ({@link #insert}), taken out again ({@link #remove}), and where it stands ({@link #placement}).
 * A changed file is written indented, every other member kept in its order with its value (numbers to the digit).
 */
final class ConfigEdit {

    /** The CNI versions our plugin speaks (docs/cni.md); a conflist of another version would fail every pod. */
    static final Set<String> SUPPORTED_VERSIONS = Set.of("0.3.1", "0.4.0", "1.0.0", "1.1.0");

    /** What {@link #insert} decided. */
    sealed interface Outcome {
        /** Our entry is already last and as wanted: leave the file alone. */
        record Unchanged() implements Outcome {}

        /** Write these bytes over the file. */
        record Rewrite(byte[] bytes) implements Outcome {}

        /** A single plugin's config: write these bytes (a conflist of it and ours) as {@code <basename>.conflist}. */
        record Convert(byte[] bytes) implements Outcome {}
    }

    /** Where our entry stands in a config. */
    enum Placement { LAST_AS_WANTED, ABSENT, NOT_LAST, DIFFERENT, NOT_A_CONFLIST }

    private ConfigEdit() {
    }

    /**
     * Our entry last in the config {@code bytes} of file {@code fileName}: any other nodemesh entry (older settings,
     * not last) is taken out; a single plugin's {@code .conf}/{@code .json} becomes a conflist as libcni's
     * {@code ConfListFromConf} makes one (the list takes the config's {@code name} and {@code cniVersion}, the config
     * itself is the first plugin, whole).
     *
     * @throws InstallException naming the file: not JSON, not an object, no plugins, a CNI version we cannot chain to
     */
    static Outcome insert(String fileName, byte[] bytes, Map<String, Object> entry) throws InstallException {
        Map<String, Object> config = parse(fileName, bytes);
        Object plugins = config.get("plugins");
        if (plugins == null) {
            if (ConfigFiles.isConflistName(fileName) || !(config.get("type") instanceof String type) || type.isEmpty()) {
                throw new InstallException(fileName + ": no \"plugins\" list"
                        + (ConfigFiles.isConflistName(fileName) ? "" : " and no \"type\": neither a conflist nor a plugin's config")
                        + "; nothing written");
            }
            checkVersion(fileName, config);
            if (!(config.get("name") instanceof String name) || name.isEmpty()) {
                throw new InstallException(fileName + ": no \"name\": the runtime cannot load it; nothing written");
            }
            if (PluginEntry.isOurs(config)) {
                throw new InstallException(fileName + ": the runtime's chosen config is a lone nodemesh entry; nothing written");
            }
            Map<String, Object> list = new LinkedHashMap<>();
            if (config.containsKey("cniVersion")) {
                list.put("cniVersion", config.get("cniVersion"));
            }
            list.put("name", config.get("name"));
            list.put("plugins", new ArrayList<>(List.of(config, entry)));
            return new Outcome.Convert(Json.writePretty(list));
        }
        List<Object> list = pluginList(fileName, plugins);
        checkVersion(fileName, config);
        if (placementIn(list, entry) == Placement.LAST_AS_WANTED) {
            return new Outcome.Unchanged();
        }
        List<Object> edited = new ArrayList<>(list.size() + 1);
        for (Object plugin : list) {
            if (!PluginEntry.isOurs(plugin)) {
                edited.add(plugin);
            }
        }
        if (edited.isEmpty()) {
            throw new InstallException(fileName + ": its only plugins are nodemesh entries: no primary CNI to chain to;"
                    + " nothing written");
        }
        edited.add(entry);
        config.put("plugins", edited);
        return new Outcome.Rewrite(Json.writePretty(config));
    }

    /** The config without any nodemesh entry, or {@code null} when it holds none (or is not a conflist). */
    static byte[] remove(String fileName, byte[] bytes) throws InstallException {
        Map<String, Object> config = parse(fileName, bytes);
        if (!(config.get("plugins") instanceof List<?> list) || list.stream().noneMatch(PluginEntry::isOurs)) {
            return null;
        }
        List<Object> kept = new ArrayList<>();
        for (Object plugin : list) {
            if (!PluginEntry.isOurs(plugin)) {
                kept.add(plugin);
            }
        }
        config.put("plugins", kept);
        return Json.writePretty(config);
    }

    /** Where our entry stands in the config {@code bytes}. */
    static Placement placement(String fileName, byte[] bytes, Map<String, Object> entry) throws InstallException {
        Map<String, Object> config = parse(fileName, bytes);
        if (!(config.get("plugins") instanceof List<?> list)) {
            return Placement.NOT_A_CONFLIST;
        }
        return placementIn(list, entry);
    }

    private static Placement placementIn(List<?> plugins, Map<String, Object> entry) {
        long ours = plugins.stream().filter(PluginEntry::isOurs).count();
        if (ours == 0) {
            return Placement.ABSENT;
        }
        if (!PluginEntry.isOurs(plugins.getLast())) {
            return Placement.NOT_LAST;
        }
        return ours == 1 && plugins.getLast().equals(entry) ? Placement.LAST_AS_WANTED : Placement.DIFFERENT;
    }

    private static Map<String, Object> parse(String fileName, byte[] bytes) throws InstallException {
        try {
            return Json.parseObject(bytes);
        } catch (Json.JsonException e) {
            throw new InstallException(fileName + ": not a valid CNI config (" + e.getMessage() + "); nothing written");
        }
    }

    @SuppressWarnings("unchecked")
    private static List<Object> pluginList(String fileName, Object plugins) throws InstallException {
        if (!(plugins instanceof List<?> list)) {
            throw new InstallException(fileName + ": \"plugins\" is " + Json.kind(plugins) + ", not a list; nothing written");
        }
        if (list.isEmpty()) {
            throw new InstallException(fileName + ": \"plugins\" is empty: no primary CNI to chain to; nothing written");
        }
        for (Object plugin : list) {
            if (!(plugin instanceof Map<?, ?> map) || !(map.get("type") instanceof String)) {
                throw new InstallException(fileName + ": a plugin in \"plugins\" has no \"type\"; nothing written");
            }
        }
        return (List<Object>) list;
    }

    private static void checkVersion(String fileName, Map<String, Object> config) throws InstallException {
        Object version = config.get("cniVersion");
        Object versions = config.get("cniVersions");
        if (versions instanceof List<?> list && list.stream().anyMatch(SUPPORTED_VERSIONS::contains)) {
            return;
        }
        if (!(version instanceof String v) || !SUPPORTED_VERSIONS.contains(v)) {
            throw new InstallException(fileName + ": cniVersion " + (version == null ? "missing" : "'" + version + "'")
                    + " is not one the nodemesh plugin speaks (" + String.join(", ", SUPPORTED_VERSIONS.stream().sorted().toList())
                    + "); nothing written");
        }
    }
}
