package io.nodemesh.proxy.config;

/** An operator's mistake in a config file; the message names the file, line, column and field. */
public final class ConfigException extends Exception {

    public ConfigException(String message) {
        super(message);
    }

    public ConfigException(String message, Throwable cause) {
        super(message, cause);
    }
}
