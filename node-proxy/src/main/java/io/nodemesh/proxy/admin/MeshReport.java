package io.nodemesh.proxy.admin;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.DurationText;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.IdentitySettings;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.NamespaceSpec;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceSpec;
import io.nodemesh.proxy.identity.CertificateStatus;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.proxy.model.CaptureState;
import io.nodemesh.proxy.policy.AuthorizationPolicy;
import io.nodemesh.proxy.policy.Authorizer;
import io.nodemesh.proxy.policy.Cidr;
import java.net.InetAddress;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.LinkedHashMap;
import java.util.TreeMap;

/**
 * Turns the snapshot in force and the capture states into the JSON-ready trees of {@code /workloads},
 * {@code /services} and {@code /config_dump}. Reads one snapshot per call, so an answer never mixes two.
 */
final class MeshReport {

    private MeshReport() {
    }

    /**
     * The pods the proxy knows (this node's and the others'), each with its capture state on this node; then the pods
     * this node released that the snapshot no longer has (draining). {@code namespace} null: every namespace.
     */
    static Map<String, Object> workloads(ProxyView view, String namespace) {
        MeshSnapshot snapshot = view.snapshot();
        Map<String, CaptureReport.Pod> captures = new LinkedHashMap<>();
        for (CaptureReport.Pod p : view.captures().pods()) {
            captures.put(p.key(), p);
        }
        List<Map<String, Object>> out = new ArrayList<>();
        for (PodSpec pod : snapshot.pods().values()) {
            if (namespace == null || namespace.equals(pod.namespace())) {
                out.add(workload(pod.namespace(), pod.name(), pod.ips(), pod.node(), pod.serviceAccount(),
                        pod.meshed(), captures.remove(pod.key())));
            }
        }
        for (CaptureReport.Pod gone : captures.values()) {
            if (namespace == null || namespace.equals(gone.namespace())) {
                out.add(workload(gone.namespace(), gone.name(), List.of(), "", null, true, gone));
            }
        }
        return Map.of("workloads", out);
    }

    private static Map<String, Object> workload(String namespace, String name, List<InetAddress> ips, String node,
            String serviceAccount, boolean meshed, CaptureReport.Pod capture) {
        Map<String, Object> w = new LinkedHashMap<>();
        w.put("namespace", namespace);
        w.put("pod", name);
        w.put("addresses", addresses(ips));
        w.put("node", node);
        w.put("serviceAccount", serviceAccount);
        w.put("meshed", meshed);
        CaptureState state = capture == null ? null : capture.state();
        w.put("capture", state == null ? null : state.toString());
        boolean failed = state != null && state.phase() == CaptureState.Phase.FAILED;
        w.put("captureError", failed ? capture.detail() : null);
        // What a pending pod waits for (its sandbox, from the CNI plugin), or why it failed.
        w.put("captureDetail", capture == null ? null : capture.detail());
        return w;
    }

    /** The services with their addresses, ports and endpoints. {@code namespace} null: every namespace. */
    static Map<String, Object> services(ProxyView view, String namespace) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (ServiceSpec svc : view.snapshot().services().values()) {
            if (namespace == null || namespace.equals(svc.namespace())) {
                out.add(service(svc));
            }
        }
        return Map.of("services", out);
    }

    private static Map<String, Object> service(ServiceSpec svc) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("namespace", svc.namespace());
        s.put("name", svc.name());
        s.put("vips", addresses(svc.vips()));
        List<Map<String, Object>> ports = new ArrayList<>();
        for (ServiceSpec.Port p : svc.ports()) {
            Map<String, Object> port = new LinkedHashMap<>();
            port.put("name", p.name());
            port.put("port", p.port());
            port.put("targetPort", p.targetPort());
            ports.add(port);
        }
        s.put("ports", ports);
        s.put("readyEndpoints", svc.readyEndpoints());
        s.put("totalEndpoints", svc.endpoints().size());
        List<Map<String, Object>> endpoints = new ArrayList<>();
        for (ServiceSpec.Endpoint e : svc.endpoints()) {
            Map<String, Object> ep = new LinkedHashMap<>();
            ep.put("address", e.address().getHostAddress());
            ep.put("ready", e.ready());
            ep.put("pod", e.pod());
            ep.put("node", e.node());
            ep.put("ports", new TreeMap<>(e.ports()));
            endpoints.add(ep);
        }
        s.put("endpoints", endpoints);
        return s;
    }

    /**
     * What governs connections into workloads ({@link Authorizer#explain}): the one named {@code namespace/name}, else
     * every pod this node captures. Null when the named workload is not in the snapshot.
     */
    static Map<String, Object> policies(ProxyView view, String workload) {
        MeshSnapshot snapshot = view.snapshot();
        List<Map<String, Object>> out = new ArrayList<>();
        if (workload != null) {
            PodSpec pod = snapshot.pods().get(workload);
            if (pod == null) {
                return null;
            }
            out.add(explanation(Authorizer.explain(snapshot, pod)));
        } else {
            for (PodSpec pod : snapshot.pods().values()) {
                if (pod.capture()) {
                    out.add(explanation(Authorizer.explain(snapshot, pod)));
                }
            }
        }
        return Map.of("workloads", out);
    }

    private static Map<String, Object> explanation(Authorizer.Explanation e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("workload", e.workload());
        m.put("peerAuthentication", e.peerAuthentication().label());
        m.put("effect", e.effect());
        m.put("policies", e.applying().stream().map(MeshReport::policy).toList());
        return m;
    }

    /**
     * The workload certificates this node holds: whether a mesh CA is configured, its trust domain, and per identity
     * the certificate in use, its state, renewals and the last failure.
     */
    static Map<String, Object> certificates(ProxyView view) {
        IdentitySettings settings = view.boot().identity();
        Instant now = Instant.now();
        List<Map<String, Object>> out = new ArrayList<>();
        for (CertificateStatus c : view.certificates()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("identity", c.identity().toString());
            m.put("state", c.state(now).name().toLowerCase(java.util.Locale.ROOT));
            m.put("serial", c.serial() == null ? null : c.serial().toString(16));
            m.put("notBefore", c.notBefore() == null ? null : c.notBefore().toString());
            m.put("notAfter", c.notAfter() == null ? null : c.notAfter().toString());
            m.put("renewals", c.renewals());
            m.put("failures", c.failures());
            m.put("lastError", c.lastError());
            m.put("nextAttempt", c.nextAttempt() == null ? null : c.nextAttempt().toString());
            out.add(m);
        }
        Map<String, Object> answer = new LinkedHashMap<>();
        answer.put("ca", settings.caDir() == null ? null : settings.caDir().toString());
        answer.put("trustDomain", settings.trustDomain());
        answer.put("certificates", out);
        return answer;
    }

    /** Everything the proxy runs on: its source, its boot settings and the whole snapshot in force. */
    static Map<String, Object> configDump(ProxyView view) {
        MeshSnapshot snapshot = view.snapshot();
        Map<String, Object> out = new LinkedHashMap<>();
        ProxyView.ConfigStatus cfg = view.config();
        Map<String, Object> source = new LinkedHashMap<>();
        source.put("source", cfg.file());
        source.put("loadedAt", Instant.ofEpochMilli(cfg.loadedAtMillis()).toString());
        source.put("lastError", cfg.lastError());
        source.put("details", cfg.details());
        out.put("source", source);
        BootSettings boot = view.boot();
        Map<String, Object> b = new LinkedHashMap<>();
        b.put("transport", boot.transport().configName());
        b.put("workers", boot.workers());
        b.put("admin", HostPort.format(boot.admin()));
        b.put("adminSocket", boot.adminSocket().toString());
        b.put("readiness", HostPort.format(boot.readiness()));
        out.put("boot", b);
        out.put("proxy", settings(snapshot.proxy()));
        List<Map<String, Object>> namespaces = new ArrayList<>();
        for (NamespaceSpec ns : snapshot.namespaces().values()) {
            Map<String, Object> n = new LinkedHashMap<>();
            n.put("name", ns.name());
            n.put("labels", new TreeMap<>(ns.labels()));
            n.put("enrolled", ns.enrolled());
            n.put("peerAuthentication", ns.peerAuthentication().label());
            namespaces.add(n);
        }
        out.put("namespaces", namespaces);
        List<Map<String, Object>> pods = new ArrayList<>();
        for (PodSpec pod : snapshot.pods().values()) {
            pods.add(pod(pod));
        }
        out.put("pods", pods);
        List<Map<String, Object>> services = new ArrayList<>();
        for (ServiceSpec svc : snapshot.services().values()) {
            services.add(service(svc));
        }
        out.put("services", services);
        List<Map<String, Object>> policies = new ArrayList<>();
        for (AuthorizationPolicy p : snapshot.policies()) {
            policies.add(policy(p));
        }
        out.put("policies", policies);
        return out;
    }

    private static Map<String, Object> settings(ProxySettings s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mark", String.format("0x%x", s.mark()));
        m.put("outboundPort", s.outboundPort());
        m.put("inboundPort", s.inboundPort());
        m.put("connectTimeout", DurationText.format(s.connectTimeout()));
        m.put("idleTimeout", DurationText.format(s.idleTimeout()));
        m.put("drainTimeout", DurationText.format(s.drainTimeout()));
        TcpKeepalive k = s.keepalive();
        if (k.enabled()) {
            Map<String, Object> keepalive = new LinkedHashMap<>();
            keepalive.put("time", DurationText.format(k.time()));
            keepalive.put("interval", DurationText.format(k.interval()));
            keepalive.put("probes", k.probes());
            m.put("keepalive", keepalive);
        } else {
            m.put("keepalive", "off");
        }
        m.put("rules", s.rules().configName());
        m.put("capture", s.capture().configName());
        return m;
    }

    private static Map<String, Object> pod(PodSpec pod) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("namespace", pod.namespace());
        p.put("name", pod.name());
        p.put("serviceAccount", pod.serviceAccount());
        p.put("ips", addresses(pod.ips()));
        p.put("node", pod.node());
        p.put("labels", new TreeMap<>(pod.labels()));
        p.put("netns", pod.netns() == null ? null : pod.netns().toString());
        p.put("meshed", pod.meshed());
        p.put("capture", pod.capture());
        p.put("exemptPorts", pod.exemptPorts());
        p.put("exemptInboundPorts", pod.exemptInboundPorts());
        p.put("exemptCidrs", pod.exemptCidrs());
        if (pod.cgroup() != null) {
            p.put("cgroup", pod.cgroup().toString()); // capture: ebpf attaches there
        }
        return p;
    }

    /** A policy written the way the standalone file and the custom resource write it. */
    private static Map<String, Object> policy(AuthorizationPolicy policy) {
        Map<String, Object> p = new LinkedHashMap<>();
        p.put("namespace", policy.namespace());
        p.put("name", policy.name());
        p.put("selector", Map.of("matchLabels", new TreeMap<>(policy.selector())));
        p.put("action", policy.action().name());
        List<Map<String, Object>> rules = new ArrayList<>();
        for (AuthorizationPolicy.Rule rule : policy.rules()) {
            Map<String, Object> r = new LinkedHashMap<>();
            List<Map<String, Object>> from = new ArrayList<>();
            for (AuthorizationPolicy.Source s : rule.from()) {
                Map<String, Object> source = new LinkedHashMap<>();
                putIfAny(source, "principals", s.principals());
                putIfAny(source, "notPrincipals", s.notPrincipals());
                putIfAny(source, "namespaces", s.namespaces());
                putIfAny(source, "notNamespaces", s.notNamespaces());
                putIfAny(source, "ipBlocks", s.ipBlocks().stream().map(Cidr::text).toList());
                putIfAny(source, "notIpBlocks", s.notIpBlocks().stream().map(Cidr::text).toList());
                from.add(Map.of("source", source));
            }
            List<Map<String, Object>> to = new ArrayList<>();
            for (AuthorizationPolicy.Operation o : rule.to()) {
                Map<String, Object> operation = new LinkedHashMap<>();
                putIfAny(operation, "ports", o.ports().stream().map(String::valueOf).toList());
                putIfAny(operation, "notPorts", o.notPorts().stream().map(String::valueOf).toList());
                to.add(Map.of("operation", operation));
            }
            List<Map<String, Object>> when = new ArrayList<>();
            for (AuthorizationPolicy.Condition c : rule.when()) {
                Map<String, Object> condition = new LinkedHashMap<>();
                condition.put("key", c.key());
                putIfAny(condition, "values", c.values());
                putIfAny(condition, "notValues", c.notValues());
                when.add(condition);
            }
            putIfAny(r, "from", from);
            putIfAny(r, "to", to);
            putIfAny(r, "when", when);
            rules.add(r);
        }
        p.put("rules", rules);
        return p;
    }

    private static void putIfAny(Map<String, Object> m, String key, List<?> values) {
        if (!values.isEmpty()) {
            m.put(key, values);
        }
    }

    private static List<String> addresses(List<InetAddress> ips) {
        return ips.stream().map(InetAddress::getHostAddress).toList();
    }

    /** {@code 5s}, {@code 1h}, {@code 250ms}: the way the standalone file writes durations. */
}
