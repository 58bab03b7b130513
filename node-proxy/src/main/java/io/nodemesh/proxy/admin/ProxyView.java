package io.nodemesh.proxy.admin;

import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.stats.NodeStats;
import io.nodemesh.proxy.transport.Transport;
import java.util.List;

/** What the admin server may read of the running proxy; every method is safe from any thread. */
public interface ProxyView {

    /** Captured, failed and draining pods. */
    List<PodCapture> pods();

    /** Node-wide totals. */
    NodeStats nodeStats();

    /** The transport in use. */
    Transport transport();

    /** Where the config comes from and whether its latest version was accepted. */
    ConfigStatus config();

    /**
     * The config source's state.
     *
     * @param file the standalone file
     * @param loadedAtMillis when the config in force was loaded
     * @param lastError why the latest change was rejected, or null if it was accepted
     */
    record ConfigStatus(String file, long loadedAtMillis, String lastError) {
    }
}
