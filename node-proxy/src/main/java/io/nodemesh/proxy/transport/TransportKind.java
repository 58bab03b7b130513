package io.nodemesh.proxy.transport;

import java.util.Locale;

/** Which Netty transport the proxy asks for; what it gets depends on the kernel (see capture.Transport). */
public enum TransportKind {
    /** Linux epoll: the default. */
    EPOLL,
    /** Linux io_uring, when the kernel allows it. */
    IO_URING,
    /** Java NIO: captures too, reaching the socket's descriptor through {@code sun.nio.ch} (capture.NioDescriptors). */
    NIO;

    /** The name used in config files and on the command line. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code epoll}, {@code io_uring} or {@code nio}; null if it is none of them. */
    public static TransportKind parse(String text) {
        for (TransportKind k : values()) {
            if (k.configName().equals(text)) {
                return k;
            }
        }
        return null;
    }
}
