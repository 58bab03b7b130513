package io.nodemesh.proxy.capture;

import io.netty.channel.Channel;
import java.io.IOException;
import java.net.InetSocketAddress;

/**
 * Where an accepted connection was headed before the redirect: {@code getsockopt(SO_ORIGINAL_DST)} on its socket in
 * production ({@code Transport::originalDestination}), anything a test wants on an embedded channel.
 */
@FunctionalInterface
public interface OriginalDestinationLookup {

    /**
     * @throws io.nodemesh.linux.NativeException with ENOENT when the connection was not redirected (no conntrack
     *         translation), or another errno
     * @throws IOException when the channel's socket cannot be reached
     */
    InetSocketAddress originalDestination(Channel accepted) throws IOException;
}
