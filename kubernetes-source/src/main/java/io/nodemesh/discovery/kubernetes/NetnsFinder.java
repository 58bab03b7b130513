package io.nodemesh.discovery.kubernetes;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.Collection;
import java.util.Map;

/**
 * Finds the network namespaces of pods that were already running when the proxy learnt it should capture them (a
 * proxy restart, a namespace enrolled later): in production {@link io.nodemesh.proxy.inpod.NetnsScanner}, one pass
 * over {@code /proc} and {@code /var/run/netns} for all the addresses asked at once.
 */
@FunctionalInterface
public interface NetnsFinder {

    /** Finds nothing: every pod to capture stays without a namespace (and its capture fails, saying so). */
    NetnsFinder NONE = addresses -> Map.of();

    /**
     * Looks once for the namespaces holding {@code addresses}.
     *
     * @return the path of the namespace of each address found (in exactly one namespace); the others are left out
     */
    Map<InetAddress, Path> find(Collection<InetAddress> addresses);
}
