package io.nodemesh.cni.install;

import io.nodemesh.cni.Json;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the installer did last, kept in {@code <conf dir>/.nodemesh/install.json}: where the plugin went, which config
 * file holds our entry, the SHA-256 of the bytes it wrote there (so uninstall knows whether the file still holds only
 * our change, and {@code nodemesh cni status} whether it is in sync), and where the original's bytes are kept.
 *
 * @param installedAt   when the config was last written
 * @param installer     the installer's version
 * @param binDir        the CNI bin dir the plugin was copied to
 * @param config        the config file's name (in the conf dir) that holds our entry
 * @param convertedFrom the single plugin's config it was made from ({@code 10-flannel.conf}), kept in the state dir; or null
 * @param original      the name, in the state dir, of the original bytes of {@code config}; null when unknown (our entry
 *                      was already there when this installer first saw the file) or converted
 * @param writtenSha256 SHA-256 of what the installer wrote to {@code config}
 * @param entry         our entry as written
 */
record InstallRecord(Instant installedAt, String installer, Path binDir, String config, String convertedFrom,
        String original, String writtenSha256, Map<String, Object> entry) {

    static final int VERSION = 1;

    byte[] toJson() {
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("version", (long) VERSION);
        json.put("installedAt", installedAt.toString());
        json.put("installer", installer);
        json.put("binDir", binDir.toString());
        json.put("config", config);
        json.put("convertedFrom", convertedFrom);
        json.put("original", original);
        json.put("writtenSha256", writtenSha256);
        json.put("entry", entry);
        return Json.writePretty(json);
    }

    @SuppressWarnings("unchecked")
    static InstallRecord parse(Path file, byte[] bytes) throws InstallException {
        try {
            Map<String, Object> json = Json.parseObject(bytes);
            if (!Long.valueOf(VERSION).equals(json.get("version"))) {
                throw new InstallException(file + ": install record version " + json.get("version") + ", expected " + VERSION);
            }
            return new InstallRecord(Instant.parse(text(json, "installedAt")), (String) json.get("installer"),
                    Path.of(text(json, "binDir")), text(json, "config"), (String) json.get("convertedFrom"),
                    (String) json.get("original"), text(json, "writtenSha256"), (Map<String, Object>) json.get("entry"));
        } catch (Json.JsonException | ClassCastException | DateTimeParseException | NullPointerException e) {
            throw new InstallException(file + ": unreadable install record (" + e.getMessage() + ")");
        }
    }

    private static String text(Map<String, Object> json, String key) {
        Object value = json.get(key);
        if (!(value instanceof String s)) {
            throw new NullPointerException("no \"" + key + "\"");
        }
        return s;
    }
}
