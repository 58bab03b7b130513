package io.nodemesh.proxy.admin;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.identity.CertificateStatus;
import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.proxy.stats.NodeStats;
import io.nodemesh.proxy.stats.TunnelStats;
import io.nodemesh.proxy.transport.Transport;
import io.nodemesh.proxy.upgrade.ListenerKeeper;
import java.util.List;

/** What the admin server may read of the running proxy; every method is safe from any thread. */
public interface ProxyView {

    /** Captured, failed and draining pods. */
    List<PodCapture> pods();

    /** Node-wide totals. */
    NodeStats nodeStats();

    /** The tunnel's counters now, with the connections the pods' pools hold. */
    default TunnelStats.Totals tunnelTotals() {
        return nodeStats().tunnel().totals(pods().stream().mapToInt(PodCapture::tunnelConnections).sum());
    }

    /** The transport in use. */
    Transport transport();

    /** Where the config comes from and whether its latest version was accepted. */
    ConfigStatus config();

    /** The snapshot in force: settings, namespaces, pods, services, policies. */
    MeshSnapshot snapshot();

    /** How this node's pods are captured. */
    CaptureReport captures();

    /** The workload certificates this node holds (none without a mesh CA: {@code boot().identity().caDir()}). */
    List<CertificateStatus> certificates();

    /** The settings the proxy started with. */
    BootSettings boot();

    /** The listener keeper's session (docs/upgrade.md), or null when the proxy has none. */
    default ListenerKeeper.Status keeper() {
        return null;
    }

    /**
     * The config source's state.
     *
     * @param file what the source reads (the standalone file, or the Kubernetes API and node)
     * @param loadedAtMillis when the config in force was loaded
     * @param lastError why the latest change was rejected, or null if it was accepted
     * @param details the source's lines on what it follows ({@code SourceStatus#details})
     */
    record ConfigStatus(String file, long loadedAtMillis, String lastError, List<String> details) {
        public ConfigStatus {
            details = List.copyOf(details);
        }

        /** A status without details. */
        public ConfigStatus(String file, long loadedAtMillis, String lastError) {
            this(file, loadedAtMillis, lastError, List.of());
        }
    }
}
