package io.nodemesh.cli;

import io.nodemesh.proxy.config.DurationText;
import java.time.Duration;
import picocli.CommandLine;

/** picocli's side of {@link DurationText#parse}: a duration option written as in the config file ({@code 3650d}). */
public final class DurationConverter implements CommandLine.ITypeConverter<Duration> {

    @Override
    public Duration convert(String value) {
        try {
            return DurationText.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }
}
