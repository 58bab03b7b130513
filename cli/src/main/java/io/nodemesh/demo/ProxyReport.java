package io.nodemesh.demo;

import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.stats.DirectionStats;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.model.Direction;
import io.netty.util.NetUtil;
import java.io.PrintWriter;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Locale;

/** Prints what the proxy itself recorded: the connections it captured and its per-direction totals. */
final class ProxyReport {

    private static final int SHOWN = 8;

    private ProxyReport() {
    }

    static void print(PrintWriter out, List<ClosedConnection> recent, NodeProxy proxy) {
        out.printf("what the proxy saw (newest %d of its recent connections)%n", Math.min(SHOWN, recent.size()));
        out.printf("  %-9s %-14s %-22s %-24s %10s %10s  %s%n",
                "DIRECTION", "POD", "SOURCE", "ORIGINAL DESTINATION", "FROM SRC", "TO SRC", "OUTCOME");
        for (ClosedConnection c : recent.subList(0, Math.min(SHOWN, recent.size()))) {
            out.printf("  %-9s %-14s %-22s %-24s %10d %10d  %s%n",
                    c.direction().name().toLowerCase(Locale.ROOT), c.podNamespace() + "/" + c.podName(),
                    address(c.source()), address(c.destination()), c.bytesFromSource(), c.bytesToSource(),
                    c.outcome());
        }
        for (Direction d : Direction.values()) {
            DirectionStats.Snapshot s = proxy.nodeStats().direction(d).snapshot();
            out.printf("  %-9s total: %d connections closed %s, %s forwarded from sources, %s back%n",
                    d.name().toLowerCase(Locale.ROOT), s.closed(), s.closedByOutcome(),
                    DemoCommand.size(s.bytesFromSource()), DemoCommand.size(s.bytesToSource()));
        }
    }

    private static String address(InetSocketAddress a) {
        String host = NetUtil.toAddressString(a.getAddress());
        return (host.contains(":") ? "[" + host + "]" : host) + ":" + a.getPort();
    }
}
