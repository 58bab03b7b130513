package io.nodemesh.proxy.discovery;

import io.nodemesh.proxy.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.Objects;

/**
 * Notices changes to the standalone config file by polling its metadata (modification time, size
 * and inode) and then its content. Polling, rather than a WatchService, survives editors that save
 * by writing a new file and renaming it over the old one, and files replaced through symlinks
 * (Kubernetes ConfigMap volumes). Not thread-safe: call from one thread.
 */
public final class ConfigFileWatcher {

    /** The outcome of a poll that saw new content: a config, or the error that keeps the old one in force. */
    public sealed interface Change permits Loaded, Rejected {
    }

    /** The file changed and is valid. */
    public record Loaded(StandaloneConfig.Document document) implements Change {
    }

    /** The file changed and is not valid; {@code message} names file, line, column and field. */
    public record Rejected(String message) implements Change {
    }

    private final Path file;
    private FileTime modified;
    private long size = -1;
    private Object fileKey;
    private String content;

    public ConfigFileWatcher(Path file) {
        this.file = file;
    }

    public Path file() {
        return file;
    }

    /**
     * Reads the file now regardless of what changed (start-up, explicit reload).
     *
     * @throws ConfigException if it is missing or invalid
     */
    public StandaloneConfig.Document load() throws ConfigException {
        String text = read();
        StandaloneConfig.Document config = StandaloneConfig.parse(file.toString(), text);
        content = text;
        return config;
    }

    /** The change since the last poll or load, or null if the content is the same. */
    public Change poll() {
        try {
            BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class);
            if (attrs.lastModifiedTime().equals(modified) && attrs.size() == size
                    && Objects.equals(attrs.fileKey(), fileKey)) {
                return null;
            }
        } catch (IOException e) {
            // Missing for a moment (rename-on-save) or gone: report when the content is read.
        }
        String text;
        try {
            text = read();
        } catch (ConfigException e) {
            String message = e.getMessage();
            if (message.equals(content)) {
                return null;
            }
            content = message; // report a missing file once, not every second
            return new Rejected(message);
        }
        if (text.equals(content)) {
            return null;
        }
        content = text;
        try {
            return new Loaded(StandaloneConfig.parse(file.toString(), text));
        } catch (ConfigException e) {
            return new Rejected(e.getMessage());
        }
    }

    private String read() throws ConfigException {
        try {
            BasicFileAttributes attrs = Files.readAttributes(file, BasicFileAttributes.class);
            String text = StandaloneConfig.read(file);
            modified = attrs.lastModifiedTime();
            size = attrs.size();
            fileKey = attrs.fileKey();
            return text;
        } catch (NoSuchFileException e) {
            modified = null;
            throw new ConfigException(file + ": no such file");
        } catch (IOException e) {
            modified = null;
            throw new ConfigException(file + ": cannot read: " + e.getMessage(), e);
        } catch (ConfigException e) {
            modified = null;
            throw e;
        }
    }
}
