package io.nodemesh.cli;

import io.nodemesh.proxy.config.HostPort;
import java.net.InetSocketAddress;
import picocli.CommandLine;

/** picocli's side of {@link HostPort#parse}: every HOST:PORT option of the CLI, with the parser's message on error. */
public final class HostPortConverter implements CommandLine.ITypeConverter<InetSocketAddress> {

    @Override
    public InetSocketAddress convert(String value) {
        try {
            return HostPort.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }
}
