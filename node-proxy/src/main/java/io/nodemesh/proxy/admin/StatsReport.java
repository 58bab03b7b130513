package io.nodemesh.proxy.admin;

import io.nodemesh.proxy.inpod.PodCapture;
import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.relay.Connection;
import io.nodemesh.proxy.stats.DirectionStats;
import io.nodemesh.proxy.telemetry.ClosedConnection;
import io.nodemesh.proxy.upgrade.ListenerKeeper;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/** Turns the proxy's state into the JSON-ready trees of {@code /stats} and {@code /connections}. */
final class StatsReport {

    private StatsReport() {
    }

    static Map<String, Object> stats(ProxyView view) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("transport", view.transport().toString());
        ProxyView.ConfigStatus cfg = view.config();
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("file", cfg.file());
        config.put("loadedAt", Instant.ofEpochMilli(cfg.loadedAtMillis()).toString());
        config.put("lastError", cfg.lastError());
        config.put("details", cfg.details());
        out.put("config", config);
        ListenerKeeper.Status keeper = view.keeper();
        if (keeper != null) {
            Map<String, Object> k = new LinkedHashMap<>();
            k.put("socket", keeper.socket().toString());
            k.put("holding", keeper.holding());
            k.put("pods", keeper.pods());
            k.put("problem", keeper.problem());
            out.put("keeper", k);
        }
        Map<String, Object> totals = new LinkedHashMap<>();
        totals.put("outbound", direction(view.nodeStats().direction(Direction.OUTBOUND).snapshot()));
        totals.put("inbound", direction(view.nodeStats().direction(Direction.INBOUND).snapshot()));
        totals.put("notRedirected", view.nodeStats().notRedirectedCount());
        totals.put("tunnel", view.tunnelTotals().report());
        out.put("totals", totals);
        List<Map<String, Object>> pods = new ArrayList<>();
        for (PodCapture pod : view.pods()) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("pod", pod.spec().key());
            p.put("serviceAccount", pod.spec().serviceAccount());
            p.put("ips", pod.spec().ips().stream().map(InetAddress::getHostAddress).toList());
            p.put("netns", String.valueOf(pod.spec().netns()));
            p.put("state", pod.state().name().toLowerCase(Locale.ROOT));
            p.put("listening", pod.listening());
            p.put("capture", pod.captureState().toString());
            p.put("outbound", direction(pod.stats(Direction.OUTBOUND).snapshot()));
            p.put("inbound", direction(pod.stats(Direction.INBOUND).snapshot()));
            p.put("notRedirected", pod.notRedirectedCount());
            p.put("lastError", pod.lastError());
            pods.add(p);
        }
        out.put("pods", pods);
        return out;
    }

    /**
     * Open connections and the recently closed ones, newest first: of {@code pod} only (unless null), at most
     * {@code limit} of those. Each says how it crosses between the proxies ({@code path}: {@code tunnel} with the tunnel
     * connection's far end, or {@code plaintext}), its {@code security} ({@code mutual_tls} or {@code none}) and the
     * principals of its ends where known; all null while an outbound connection's route is not chosen.
     */
    static Map<String, Object> connections(ProxyView view, String pod, int limit) {
        List<Map<String, Object>> open = new ArrayList<>();
        for (PodCapture capture : view.pods()) {
            if (pod != null && !pod.equals(capture.spec().key())) {
                continue;
            }
            for (Connection c : capture.connections()) {
                if (c.destination() == null) {
                    continue;
                }
                open.add(connection(capture.spec().key(), c.direction(), c.source(), c.destination(),
                        c.bytesFromSource(), c.bytesToSource(), c.openedAtMillis(), c.path()));
            }
        }
        List<Map<String, Object>> recent = new ArrayList<>();
        for (ClosedConnection c : view.nodeStats().recent()) {
            String key = c.podNamespace() + "/" + c.podName();
            if (recent.size() >= limit || pod != null && !pod.equals(key)) {
                continue;
            }
            Map<String, Object> m = connection(key, c.direction(), c.source(), c.destination(), c.bytesFromSource(),
                    c.bytesToSource(), c.openedAtEpochMillis(), c.opening().path());
            m.put("durationMillis", c.durationNanos() / 1_000_000);
            m.put("outcome", c.outcome().name());
            if (c.endedBy() != null) {
                m.put("endedBy", c.endedBy().name().toLowerCase(Locale.ROOT));
            }
            recent.add(m);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("open", open);
        out.put("recent", recent);
        return out;
    }

    private static Map<String, Object> connection(String pod, Direction direction, InetSocketAddress source,
            InetSocketAddress destination, long bytesFromSource, long bytesToSource, long openedAtMillis,
            ConnectionPath path) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("pod", pod);
        m.put("direction", direction.name().toLowerCase(Locale.ROOT));
        m.put("source", address(source));
        m.put("destination", address(destination));
        m.put("path", path == null ? null : path.kind());
        m.put("tunnel", path == null ? null : address(path.tunnel()));
        m.put("security", path == null ? null : path.security());
        m.put("sourcePrincipal", path == null ? null : Objects.toString(path.sourcePrincipal(), null));
        m.put("destinationPrincipal", path == null ? null : Objects.toString(path.destinationPrincipal(), null));
        m.put("bytesFromSource", bytesFromSource);
        m.put("bytesToSource", bytesToSource);
        m.put("openedAt", Instant.ofEpochMilli(openedAtMillis).toString());
        return m;
    }

    private static Map<String, Object> direction(DirectionStats.Snapshot s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("opened", s.opened());
        m.put("active", s.active());
        m.put("closed", s.closed());
        Map<String, Long> byOutcome = new LinkedHashMap<>();
        s.closedByOutcome().entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> byOutcome.put(e.getKey().name(), e.getValue()));
        m.put("closedByOutcome", byOutcome);
        m.put("bytesFromSource", s.bytesFromSource());
        m.put("bytesToSource", s.bytesToSource());
        return m;
    }

    private static String address(InetSocketAddress a) {
        if (a == null) {
            return null;
        }
        String host = a.getAddress() == null ? a.getHostString() : a.getAddress().getHostAddress();
        return host.contains(":") ? "[" + host + "]:" + a.getPort() : host + ":" + a.getPort();
    }
}
