package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteOrder;

/**
 * Reads the destination a connection had before netfilter REDIRECTed it to a proxy port:
 * {@code getsockopt(SOL_IP, SO_ORIGINAL_DST)} and its IPv6 twin {@code IP6T_SO_ORIGINAL_DST}.
 */
public final class OriginalDestination {

    private static final ValueLayout.OfShort PORT = ValueLayout.JAVA_SHORT.withOrder(ByteOrder.BIG_ENDIAN);

    private OriginalDestination() {
    }

    /**
     * The original destination of the accepted socket {@code fd}.
     *
     * @param ipv6 whether the socket is an IPv6 socket (then {@code sockaddr_in6} is read)
     * @throws NativeException when the socket was not redirected (ENOENT) or the call fails
     */
    public static InetSocketAddress of(int fd, boolean ipv6) throws IOException {
        // Read from the thread's scratch buffer: no native allocation per connection.
        if (ipv6) {
            // struct sockaddr_in6 { u16 family; u16 port; u32 flowinfo; u8 addr[16]; u32 scope_id; }
            MemorySegment sa = Libc.getsockoptScratch(fd, Libc.SOL_IPV6, Libc.IP6T_SO_ORIGINAL_DST, 28);
            int port = Short.toUnsignedInt(sa.get(PORT, 2));
            byte[] addr = new byte[16];
            MemorySegment.copy(sa, ValueLayout.JAVA_BYTE, 8, addr, 0, 16);
            return new InetSocketAddress(InetAddress.getByAddress(addr), port);
        }
        // struct sockaddr_in { u16 family; u16 port; u8 addr[4]; u8 zero[8]; }
        MemorySegment sa = Libc.getsockoptScratch(fd, Libc.SOL_IP, Libc.SO_ORIGINAL_DST, 16);
        int port = Short.toUnsignedInt(sa.get(PORT, 2));
        byte[] addr = new byte[4];
        MemorySegment.copy(sa, ValueLayout.JAVA_BYTE, 4, addr, 0, 4);
        return new InetSocketAddress(InetAddress.getByAddress(addr), port);
    }
}
