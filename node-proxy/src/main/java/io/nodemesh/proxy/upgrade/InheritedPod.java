package io.nodemesh.proxy.upgrade;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.proxy.handoff.HandoffRequest;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A captured pod as the proxy before this one handed it over: its network namespace and its listening sockets by
 * port. Whoever captures the pod takes what it uses; {@link #close} closes whatever nobody took.
 */
public final class InheritedPod implements AutoCloseable {

    private final String key;
    private final Map<Integer, Integer> listeners;
    private final HandoffRequest cni;
    private NetworkNamespace netns;

    InheritedPod(String key, NetworkNamespace netns, Map<Integer, Integer> listeners, HandoffRequest cni) {
        this.key = key;
        this.netns = netns;
        this.listeners = new LinkedHashMap<>(listeners);
        this.cni = cni;
    }

    /** The CNI plugin's ADD the proxy before captured the pod for, or null when the plugin did not hand it over. */
    public HandoffRequest cni() {
        return cni;
    }

    /** A descriptor of its own on the pod's namespace (the caller closes it), or -1 if the namespace was taken. */
    public synchronized int duplicateNamespace() throws java.io.IOException {
        return netns == null ? -1 : Descriptors.duplicate(netns.fd());
    }

    /** The pod's key, {@code namespace/name}. */
    public String key() {
        return key;
    }

    /** The ports it listened on when it was handed over. */
    public synchronized Set<Integer> ports() {
        return Set.copyOf(listeners.keySet());
    }

    /** Takes the pod's namespace (the caller closes it), or null if it was taken. */
    public synchronized NetworkNamespace takeNamespace() {
        NetworkNamespace ns = netns;
        netns = null;
        return ns;
    }

    /** Takes the listening socket on {@code port} (the caller closes it), or -1 if there is none. */
    public synchronized int takeListener(int port) {
        Integer fd = listeners.remove(port);
        return fd == null ? -1 : fd;
    }

    /** Closes what was not taken: a listener the new settings do not use stops listening once the old proxy lets go. */
    @Override
    public synchronized void close() {
        listeners.values().forEach(Descriptors::close);
        listeners.clear();
        if (netns != null) {
            netns.close();
            netns = null;
        }
    }

    @Override
    public String toString() {
        return "inherited pod " + key + " " + listeners.keySet();
    }
}
