package io.nodemesh.proxy.transport;

import io.netty.channel.unix.Errors;
import io.netty.channel.unix.Socket;
import java.io.IOException;

/**
 * New non-blocking TCP sockets of one address family, through Netty's native library: an IPv4 destination gets an
 * IPv4 socket, where {@link Socket#newSocketStream()} makes a dual-stack IPv6 one whenever the kernel has IPv6 and
 * turns {@code IPV6_V6ONLY} off on it, one system call more per connection. A subclass only to reach that factory.
 */
final class StreamSockets extends Socket {

    private StreamSockets() {
        super(-1); // never made
    }

    /** A new socket, IPv6 ({@code ipv6}, dual-stack) or IPv4. */
    static Socket open(boolean ipv6) throws IOException {
        int fd = newSocketStream0(ipv6);
        if (fd < 0) {
            throw Errors.newIOException("socket", fd);
        }
        return new Socket(fd);
    }
}
