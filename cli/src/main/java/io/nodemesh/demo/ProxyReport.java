package io.nodemesh.demo;

import io.nodemesh.cli.Vocabulary;
import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.stats.DirectionStats;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/** Prints what the proxy itself recorded: the connections it captured and its per-direction totals. */
final class ProxyReport {

    private static final int SHOWN = 8;

    private ProxyReport() {
    }

    /** {@code newestFirst}: the proxy's recent connections as it returns them, the newest first. */
    static void print(PrintWriter out, List<ClosedConnection> newestFirst, NodeProxy proxy) {
        List<ClosedConnection> shown = new ArrayList<>(newestFirst.subList(0, Math.min(SHOWN, newestFirst.size())));
        java.util.Collections.reverse(shown);
        out.printf("what the proxy saw: the last %d connections it closed, in the order they closed (newest last)%n",
                shown.size());
        out.printf("  %-9s %-14s %-22s %-24s %10s  %10s  %s%n",
                "DIRECTION", "POD", "SOURCE", "ORIGINAL DESTINATION", Vocabulary.BYTES_OUT, Vocabulary.BYTES_BACK,
                "OUTCOME");
        for (ClosedConnection c : shown) {
            out.printf("  %-9s %-14s %-22s %-24s %10s  %10s  %s%n",
                    c.direction().name().toLowerCase(Locale.ROOT), c.podNamespace() + "/" + c.podName(),
                    HostPort.format(c.source()), HostPort.format(c.destination()),
                    Vocabulary.bytes(c.bytesFromSource()), Vocabulary.bytes(c.bytesToSource()), c.outcome());
        }
        out.println("  (an inbound SOURCE from a pod of this node is the proxy's own upstream socket in that pod;");
        out.println("   the app's own address is the SOURCE of the matching outbound row)");
        for (Direction d : Direction.values()) {
            DirectionStats.Snapshot s = proxy.nodeStats().direction(d).snapshot();
            Map<String, Long> outcomes = new TreeMap<>();
            s.closedByOutcome().forEach((outcome, n) -> outcomes.put(outcome.name(), n));
            out.printf("  %-9s total: %d closed (%s), %s out, %s back%n",
                    d.name().toLowerCase(Locale.ROOT), s.closed(), Vocabulary.outcomes(outcomes),
                    Vocabulary.bytes(s.bytesFromSource()), Vocabulary.bytes(s.bytesToSource()));
        }
    }
}
