package io.nodemesh.cli;

import picocli.CommandLine;

/** picocli's side of {@link AdminAddress#parse}: the debugging commands' {@code --admin}, with the parser's message. */
public final class AdminAddressConverter implements CommandLine.ITypeConverter<AdminAddress> {

    @Override
    public AdminAddress convert(String value) {
        try {
            return AdminAddress.parse(value);
        } catch (IllegalArgumentException e) {
            throw new CommandLine.TypeConversionException(e.getMessage());
        }
    }
}
