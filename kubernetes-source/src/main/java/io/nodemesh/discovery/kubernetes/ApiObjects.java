package io.nodemesh.discovery.kubernetes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What the source keeps of each kind it watches: the few fields {@link SnapshotBuilder} reads, taken from the API's
 * JSON as each object arrives ({@link #namespace}, {@link #pod}, ...), so a cached pod is a few hundred bytes rather
 * than the whole object, and no typed model of the API is loaded. A field the JSON lacks, or holds with another type,
 * reads as absent (null, false, or an empty list or map); the builder decides what absent means.
 */
public final class ApiObjects {

    private static final ObjectMapper PLAIN = new ObjectMapper();

    private ApiObjects() {
    }

    /** An object as the API names it; every kind has one. */
    public interface ApiObject {
        Meta meta();

        /** The same object at another resource version (to tell a change the mesh reads from one it does not). */
        ApiObject atVersion(String resourceVersion);
    }

    /**
     * {@code metadata}: what identifies an object and the labels and annotations the mesh reads (entries with a
     * null key or value dropped). {@code uid} and {@code resourceVersion} may be null (objects built by hand in tests).
     */
    public record Meta(String uid, String namespace, String name, String resourceVersion, Map<String, String> labels,
                       Map<String, String> annotations) {
        public Meta {
            labels = Map.copyOf(labels);
            annotations = Map.copyOf(annotations);
        }

        /** {@code namespace/name} ({@code /name} for an object outside namespaces). */
        public String key() {
            return (namespace == null ? "" : namespace) + "/" + name;
        }

        Meta atVersion(String version) {
            return new Meta(uid, namespace, name, version, labels, annotations);
        }
    }

    /** A namespace: its name and labels. */
    public record Namespace(Meta meta) implements ApiObject {
        @Override
        public Namespace atVersion(String version) {
            return new Namespace(meta.atVersion(version));
        }
    }

    /**
     * A pod.
     *
     * @param nodeName {@code spec.nodeName}, null before it is scheduled
     * @param serviceAccountName {@code spec.serviceAccountName}, may be null
     * @param hostNetwork {@code spec.hostNetwork}
     * @param phase {@code status.phase}, may be null
     * @param ips {@code status.podIPs[].ip}, or {@code status.podIP} (unless blank: not assigned) when there are no
     *     {@code podIPs}, as written (not checked to be addresses)
     */
    public record Pod(Meta meta, String nodeName, String serviceAccountName, boolean hostNetwork, String phase,
                      List<String> ips) implements ApiObject {
        public Pod {
            ips = List.copyOf(ips);
        }

        @Override
        public Pod atVersion(String version) {
            return new Pod(meta.atVersion(version), nodeName, serviceAccountName, hostNetwork, phase, ips);
        }
    }

    /**
     * A service.
     *
     * @param hasSpec whether it has a {@code spec} at all
     * @param clusterIPs {@code spec.clusterIPs}, or {@code spec.clusterIP} when there are no {@code clusterIPs}, as
     *     written ({@code None} for a headless one)
     */
    public record Service(Meta meta, boolean hasSpec, List<String> clusterIPs, List<ServicePort> ports)
            implements ApiObject {
        public Service {
            clusterIPs = List.copyOf(clusterIPs);
            ports = List.copyOf(ports);
        }

        @Override
        public Service atVersion(String version) {
            return new Service(meta.atVersion(version), hasSpec, clusterIPs, ports);
        }
    }

    /**
     * One of {@code spec.ports}.
     *
     * @param protocol null when not given (the API's default is TCP)
     * @param port null when absent or not a whole number
     * @param targetPort a number as its decimal text, or a port's name; null when not given
     */
    public record ServicePort(String name, String protocol, Integer port, String targetPort) {
    }

    /** An EndpointSlice ({@code discovery.k8s.io/v1}). */
    public record EndpointSlice(Meta meta, String addressType, List<SlicePort> ports, List<Endpoint> endpoints)
            implements ApiObject {
        public EndpointSlice {
            ports = List.copyOf(ports);
            endpoints = List.copyOf(endpoints);
        }

        @Override
        public EndpointSlice atVersion(String version) {
            return new EndpointSlice(meta.atVersion(version), addressType, ports, endpoints);
        }
    }

    /** One of an EndpointSlice's {@code ports}; {@code port} null when absent or not a whole number. */
    public record SlicePort(String name, String protocol, Integer port) {
    }

    /**
     * One of an EndpointSlice's {@code endpoints}.
     *
     * @param ready {@code conditions.ready}, null when not given
     * @param targetRef {@code targetRef}, null when not given
     * @param nodeName may be null
     */
    public record Endpoint(List<String> addresses, Boolean ready, TargetRef targetRef, String nodeName) {
        public Endpoint {
            addresses = List.copyOf(addresses);
        }
    }

    /** An endpoint's {@code targetRef}; any field may be null. */
    public record TargetRef(String kind, String namespace, String name) {
    }

    /**
     * A {@code NodemeshAuthorizationPolicy} ({@link PolicyResources}).
     *
     * @param spec its {@code spec} as plain Java values (maps, lists, strings, numbers, booleans), null when absent
     */
    public record Policy(Meta meta, Object spec) implements ApiObject {
        @Override
        public Policy atVersion(String version) {
            return new Policy(meta.atVersion(version), spec);
        }
    }

    /** A namespace from its JSON. */
    public static Namespace namespace(JsonNode o) {
        return new Namespace(meta(o));
    }

    /** A pod from its JSON. */
    public static Pod pod(JsonNode o) {
        JsonNode spec = o.path("spec");
        JsonNode status = o.path("status");
        List<String> ips = new ArrayList<>();
        for (JsonNode ip : status.path("podIPs")) {
            String text = text(ip.path("ip"));
            if (text != null) {
                ips.add(text);
            }
        }
        String podIP = text(status.path("podIP"));
        if (ips.isEmpty() && podIP != null && !podIP.isBlank()) {
            ips.add(podIP);
        }
        return new Pod(meta(o), text(spec.path("nodeName")), text(spec.path("serviceAccountName")),
                spec.path("hostNetwork").asBoolean(false), text(status.path("phase")), ips);
    }

    /** A service from its JSON. */
    public static Service service(JsonNode o) {
        JsonNode spec = o.path("spec");
        List<String> vips = strings(spec.path("clusterIPs"));
        if (vips.isEmpty() && text(spec.path("clusterIP")) != null) {
            vips = List.of(text(spec.path("clusterIP")));
        }
        List<ServicePort> ports = new ArrayList<>();
        for (JsonNode p : spec.path("ports")) {
            JsonNode target = p.path("targetPort");
            String targetPort = target.isIntegralNumber() ? Long.toString(target.asLong()) : text(target);
            ports.add(new ServicePort(text(p.path("name")), text(p.path("protocol")), port(p.path("port")),
                    targetPort));
        }
        return new Service(meta(o), spec.isObject(), vips, ports);
    }

    /** An EndpointSlice from its JSON. */
    public static EndpointSlice endpointSlice(JsonNode o) {
        List<SlicePort> ports = new ArrayList<>();
        for (JsonNode p : o.path("ports")) {
            ports.add(new SlicePort(text(p.path("name")), text(p.path("protocol")), port(p.path("port"))));
        }
        List<Endpoint> endpoints = new ArrayList<>();
        for (JsonNode e : o.path("endpoints")) {
            JsonNode ready = e.path("conditions").path("ready");
            JsonNode ref = e.path("targetRef");
            endpoints.add(new Endpoint(strings(e.path("addresses")), ready.isBoolean() ? ready.asBoolean() : null,
                    ref.isObject() ? new TargetRef(text(ref.path("kind")), text(ref.path("namespace")),
                            text(ref.path("name"))) : null, text(e.path("nodeName"))));
        }
        return new EndpointSlice(meta(o), text(o.path("addressType")), ports, endpoints);
    }

    /** A {@code NodemeshAuthorizationPolicy} from its JSON. */
    public static Policy policy(JsonNode o) {
        JsonNode spec = o.get("spec");
        return new Policy(meta(o), spec == null || spec.isNull() ? null : PLAIN.convertValue(spec, Object.class));
    }

    /** {@code metadata} of any object. */
    public static Meta meta(JsonNode o) {
        JsonNode m = o.path("metadata");
        return new Meta(text(m.path("uid")), text(m.path("namespace")), text(m.path("name")),
                text(m.path("resourceVersion")), stringMap(m.path("labels")), stringMap(m.path("annotations")));
    }

    private static String text(JsonNode n) {
        return n.isTextual() ? n.asText() : null;
    }

    private static Integer port(JsonNode n) {
        return n.isIntegralNumber() && n.canConvertToInt() ? n.asInt() : null;
    }

    private static List<String> strings(JsonNode array) {
        List<String> out = new ArrayList<>();
        for (JsonNode n : array) {
            if (n.isTextual()) {
                out.add(n.asText());
            }
        }
        return out;
    }

    private static Map<String, String> stringMap(JsonNode object) {
        Map<String, String> out = new HashMap<>();
        object.properties().forEach(e -> {
            if (e.getValue().isTextual()) {
                out.put(e.getKey(), e.getValue().asText());
            }
        });
        return out;
    }
}
