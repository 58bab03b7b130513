package io.nodemesh.discovery.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.nodemesh.discovery.kubernetes.ApiObjects.Endpoint;
import io.nodemesh.discovery.kubernetes.ApiObjects.EndpointSlice;
import io.nodemesh.discovery.kubernetes.ApiObjects.Meta;
import io.nodemesh.discovery.kubernetes.ApiObjects.Namespace;
import io.nodemesh.discovery.kubernetes.ApiObjects.Pod;
import io.nodemesh.discovery.kubernetes.ApiObjects.Policy;
import io.nodemesh.discovery.kubernetes.ApiObjects.Service;
import io.nodemesh.discovery.kubernetes.ApiObjects.ServicePort;
import io.nodemesh.discovery.kubernetes.ApiObjects.SlicePort;
import io.nodemesh.discovery.kubernetes.ApiObjects.TargetRef;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** What the source keeps of each kind, read from JSON as an API server sends it. */
class ApiObjectsTest {

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aNamespaceKeepsItsMetadataAndDropsLabelsThatAreNotStrings() {
        Namespace ns = ApiObjects.namespace(json("""
                {
                  "kind": "Namespace",
                  "apiVersion": "v1",
                  "metadata": {
                    "name": "shop",
                    "uid": "6f1c2a0e-0d7b-4c55-9d2e-1f0a7b3c9e11",
                    "resourceVersion": "4711",
                    "creationTimestamp": "2025-01-10T09:00:00Z",
                    "labels": {
                      "kubernetes.io/metadata.name": "shop",
                      "nodemesh.io/mesh": "enabled",
                      "tier": 3,
                      "flag": true,
                      "nothing": null
                    },
                    "managedFields": [
                      {
                        "manager": "kubectl",
                        "operation": "Apply",
                        "apiVersion": "v1",
                        "time": "2025-01-10T09:00:00Z",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:nodemesh.io/mesh": {}}}}
                      }
                    ]
                  },
                  "spec": {"finalizers": ["kubernetes"]},
                  "status": {"phase": "Active"}
                }
                """));

        assertThat(ns.meta()).isEqualTo(new Meta("6f1c2a0e-0d7b-4c55-9d2e-1f0a7b3c9e11", null, "shop", "4711",
                Map.of("kubernetes.io/metadata.name", "shop", "nodemesh.io/mesh", "enabled"), Map.of()));
        assertThat(ns.meta().key()).isEqualTo("/shop");
    }

    @Test
    void aPodKeepsWhereItRunsAsWhomAndItsAddressesPreferringPodIPs() {
        Pod pod = ApiObjects.pod(json("""
                {
                  "kind": "Pod",
                  "apiVersion": "v1",
                  "metadata": {
                    "name": "web-7d9f8b6c5-x2x4k",
                    "generateName": "web-7d9f8b6c5-",
                    "namespace": "shop",
                    "uid": "0b7e8f5a-3c2d-4e1f-9a8b-7c6d5e4f3a2b",
                    "resourceVersion": "90210",
                    "labels": {"app": "web", "pod-template-hash": "7d9f8b6c5"},
                    "annotations": {"nodemesh.io/mesh": "disabled", "kubectl.kubernetes.io/restartedAt": "now"},
                    "ownerReferences": [
                      {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d9f8b6c5", "uid": "r-1",
                       "controller": true, "blockOwnerDeletion": true}
                    ],
                    "managedFields": [{"manager": "kube-controller-manager", "operation": "Update"}]
                  },
                  "spec": {
                    "volumes": [{"name": "kube-api-access", "projected": {"sources": []}}],
                    "containers": [
                      {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                       "resources": {}, "imagePullPolicy": "IfNotPresent"}
                    ],
                    "restartPolicy": "Always",
                    "serviceAccountName": "web",
                    "serviceAccount": "web",
                    "nodeName": "node-a",
                    "hostNetwork": true,
                    "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}]
                  },
                  "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "hostIP": "192.168.0.10",
                    "hostIPs": [{"ip": "192.168.0.10"}],
                    "podIP": "10.1.0.5",
                    "podIPs": [{"ip": "10.1.0.5"}, {"ip": "fd00:1::5"}],
                    "startTime": "2025-01-10T09:00:00Z",
                    "containerStatuses": [{"name": "web", "ready": true, "restartCount": 0}]
                  }
                }
                """));

        assertThat(pod.meta().uid()).isEqualTo("0b7e8f5a-3c2d-4e1f-9a8b-7c6d5e4f3a2b");
        assertThat(pod.meta().namespace()).isEqualTo("shop");
        assertThat(pod.meta().name()).isEqualTo("web-7d9f8b6c5-x2x4k");
        assertThat(pod.meta().resourceVersion()).isEqualTo("90210");
        assertThat(pod.meta().labels()).isEqualTo(Map.of("app", "web", "pod-template-hash", "7d9f8b6c5"));
        assertThat(pod.meta().annotations()).isEqualTo(Map.of("nodemesh.io/mesh", "disabled",
                "kubectl.kubernetes.io/restartedAt", "now"));
        assertThat(pod.meta().key()).isEqualTo("shop/web-7d9f8b6c5-x2x4k");
        assertThat(pod.nodeName()).isEqualTo("node-a");
        assertThat(pod.serviceAccountName()).isEqualTo("web");
        assertThat(pod.hostNetwork()).isTrue();
        assertThat(pod.phase()).isEqualTo("Running");
        assertThat(pod.ips()).containsExactly("10.1.0.5", "fd00:1::5");
    }

    @Test
    void aPodWithPodIPAloneHasThatAddressAndAPendingOneNone() {
        Pod old = ApiObjects.pod(json("""
                {"metadata": {"name": "old", "namespace": "shop"},
                 "spec": {"nodeName": "node-b", "containers": [{"name": "c", "image": "busybox"}]},
                 "status": {"phase": "Running", "podIP": "10.2.0.7"}}
                """));
        assertThat(old.ips()).containsExactly("10.2.0.7");
        assertThat(old.hostNetwork()).isFalse();
        assertThat(old.serviceAccountName()).isNull();

        Pod pending = ApiObjects.pod(json("""
                {"metadata": {"name": "new", "namespace": "shop"},
                 "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                 "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False"}]}}
                """));
        assertThat(pending.ips()).isEmpty();
        assertThat(pending.nodeName()).isNull();
        assertThat(pending.phase()).isEqualTo("Pending");

        Pod blank = ApiObjects.pod(json("""
                {"metadata": {"name": "blank", "namespace": "shop"}, "status": {"podIP": "", "podIPs": []}}
                """));
        assertThat(blank.ips()).isEmpty();
    }

    @Test
    void anObjectWithoutMetadataHasAMetaOfNullsAndEmptyMaps() {
        Meta none = new Meta(null, null, null, null, Map.of(), Map.of());
        Pod pod = ApiObjects.pod(json("""
                {"kind": "Pod", "apiVersion": "v1"}
                """));
        assertThat(pod).isEqualTo(new Pod(none, null, null, false, null, List.of()));
        assertThat(ApiObjects.namespace(json("{}")).meta()).isEqualTo(none);
        assertThat(ApiObjects.meta(json("""
                {"metadata": {"name": 7, "labels": ["not", "a", "map"], "annotations": null}}
                """))).isEqualTo(none);
        assertThat(ApiObjects.service(json("{}"))).isEqualTo(new Service(none, false, List.of(), List.of()));
        assertThat(ApiObjects.endpointSlice(json("{}")))
                .isEqualTo(new EndpointSlice(none, null, List.of(), List.of()));
        assertThat(ApiObjects.policy(json("{}"))).isEqualTo(new Policy(none, null));
    }

    @Test
    void aServiceKeepsItsClusterIPsAndPortsWithTargetPortsAsText() {
        Service svc = ApiObjects.service(json("""
                {
                  "kind": "Service",
                  "apiVersion": "v1",
                  "metadata": {
                    "name": "web",
                    "namespace": "shop",
                    "uid": "s-1",
                    "resourceVersion": "12",
                    "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
                    "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}]
                  },
                  "spec": {
                    "ports": [
                      {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                      {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https"},
                      {"name": "metrics", "port": 9090},
                      {"name": "dns", "protocol": "UDP", "port": 53, "targetPort": 5353},
                      {"name": "text", "port": "81", "targetPort": 81},
                      {"name": "fraction", "port": 70000.5},
                      {"name": "big", "port": 70000}
                    ],
                    "selector": {"app": "web"},
                    "clusterIP": "10.96.0.10",
                    "clusterIPs": ["10.96.0.10", "fd00:96::10"],
                    "type": "ClusterIP",
                    "sessionAffinity": "None",
                    "ipFamilies": ["IPv4", "IPv6"],
                    "ipFamilyPolicy": "PreferDualStack",
                    "internalTrafficPolicy": "Cluster"
                  },
                  "status": {"loadBalancer": {}}
                }
                """));

        assertThat(svc.meta().key()).isEqualTo("shop/web");
        assertThat(svc.meta().uid()).isEqualTo("s-1");
        assertThat(svc.meta().resourceVersion()).isEqualTo("12");
        assertThat(svc.meta().labels()).isEmpty();
        assertThat(svc.hasSpec()).isTrue();
        assertThat(svc.clusterIPs()).containsExactly("10.96.0.10", "fd00:96::10");
        assertThat(svc.ports()).containsExactly(
                new ServicePort("http", "TCP", 80, "8080"),
                new ServicePort("https", "TCP", 443, "https"),
                new ServicePort("metrics", null, 9090, null),
                new ServicePort("dns", "UDP", 53, "5353"),
                new ServicePort("text", null, null, "81"),
                new ServicePort("fraction", null, null, null),
                new ServicePort("big", null, 70000, null));
    }

    @Test
    void aServiceWithClusterIPAloneHasThatAddressAndAHeadlessOneNone() {
        Service old = ApiObjects.service(json("""
                {"metadata": {"name": "old", "namespace": "shop"},
                 "spec": {"clusterIP": "10.96.0.20", "ports": [{"port": 5432}]}}
                """));
        assertThat(old.clusterIPs()).containsExactly("10.96.0.20");
        assertThat(old.ports()).containsExactly(new ServicePort(null, null, 5432, null));

        Service headless = ApiObjects.service(json("""
                {"metadata": {"name": "db", "namespace": "shop"},
                 "spec": {"clusterIP": "None", "clusterIPs": ["None"], "selector": {"app": "db"}}}
                """));
        assertThat(headless.clusterIPs()).containsExactly("None");
        assertThat(headless.ports()).isEmpty();

        Service noSpec = ApiObjects.service(json("""
                {"metadata": {"name": "odd", "namespace": "shop"}, "status": {}}
                """));
        assertThat(noSpec.hasSpec()).isFalse();
        assertThat(noSpec.clusterIPs()).isEmpty();
    }

    @Test
    void anEndpointSliceKeepsItsPortsAndEndpointsWithReadyAndTargetRefAbsentAsNull() {
        EndpointSlice slice = ApiObjects.endpointSlice(json("""
                {
                  "kind": "EndpointSlice",
                  "apiVersion": "discovery.k8s.io/v1",
                  "metadata": {
                    "name": "web-abc12",
                    "generateName": "web-",
                    "namespace": "shop",
                    "uid": "e-1",
                    "resourceVersion": "77",
                    "labels": {
                      "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                      "kubernetes.io/service-name": "web"
                    },
                    "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2025-01-10T09:00:00Z"},
                    "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "web", "uid": "s-1"}],
                    "managedFields": [{"manager": "kube-controller-manager", "operation": "Update"}]
                  },
                  "addressType": "IPv4",
                  "endpoints": [
                    {
                      "addresses": ["10.1.0.5"],
                      "conditions": {"ready": true, "serving": true, "terminating": false},
                      "targetRef": {"kind": "Pod", "namespace": "shop", "name": "web-1", "uid": "p-1"},
                      "nodeName": "node-a",
                      "zone": "z1"
                    },
                    {
                      "addresses": ["10.2.0.6", 7],
                      "conditions": {"ready": false, "serving": false, "terminating": true},
                      "targetRef": {"kind": "Pod", "name": "web-2"},
                      "nodeName": "node-b"
                    },
                    {
                      "addresses": ["10.3.0.1"],
                      "conditions": {}
                    }
                  ],
                  "ports": [
                    {"name": "http", "protocol": "TCP", "port": 8080},
                    {"name": "", "port": "8081"},
                    {"protocol": "UDP", "port": 70000.5}
                  ]
                }
                """));

        assertThat(slice.meta().key()).isEqualTo("shop/web-abc12");
        assertThat(slice.meta().labels()).containsEntry(SnapshotBuilder.SERVICE_NAME_LABEL, "web").hasSize(2);
        assertThat(slice.addressType()).isEqualTo("IPv4");
        assertThat(slice.ports()).containsExactly(new SlicePort("http", "TCP", 8080), new SlicePort("", null, null),
                new SlicePort(null, "UDP", null));
        assertThat(slice.endpoints()).containsExactly(
                new Endpoint(List.of("10.1.0.5"), true, new TargetRef("Pod", "shop", "web-1"), "node-a"),
                new Endpoint(List.of("10.2.0.6"), false, new TargetRef("Pod", null, "web-2"), "node-b"),
                new Endpoint(List.of("10.3.0.1"), null, null, null));
    }

    @Test
    void aPolicyKeepsItsSpecAsPlainMapsListsAndIntegers() {
        Policy policy = ApiObjects.policy(json("""
                {
                  "apiVersion": "nodemesh.io/v1alpha1",
                  "kind": "NodemeshAuthorizationPolicy",
                  "metadata": {
                    "name": "api-from-web",
                    "namespace": "shop",
                    "uid": "a-1",
                    "resourceVersion": "5",
                    "generation": 2,
                    "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
                  },
                  "spec": {
                    "selector": {"matchLabels": {"app": "api"}},
                    "action": "ALLOW",
                    "rules": [
                      {
                        "from": [{"source": {"namespaces": ["shop"]}}],
                        "to": [{"operation": {"ports": [8080, "9090"]}}],
                        "when": [{"key": "destination.port", "values": ["8080"]}]
                      }
                    ],
                    "audit": true,
                    "weight": 0.5,
                    "huge": 5000000000
                  }
                }
                """));

        assertThat(policy.meta().key()).isEqualTo("shop/api-from-web");
        assertThat(policy.spec()).isInstanceOf(Map.class);
        Map<?, ?> spec = (Map<?, ?>) policy.spec();
        assertThat(spec.get("selector")).isEqualTo(Map.of("matchLabels", Map.of("app", "api")));
        assertThat(spec.get("action")).isEqualTo("ALLOW");
        assertThat(spec.get("audit")).isEqualTo(Boolean.TRUE);
        assertThat(spec.get("weight")).isEqualTo(0.5);
        assertThat(spec.get("huge")).isEqualTo(5_000_000_000L);
        // Equal to Integers, not Longs: a port read from JSON is an Integer, as one read from YAML.
        assertThat(spec.get("rules")).isEqualTo(List.of(Map.of(
                "from", List.of(Map.of("source", Map.of("namespaces", List.of("shop")))),
                "to", List.of(Map.of("operation", Map.of("ports", List.of(8080, "9090")))),
                "when", List.of(Map.of("key", "destination.port", "values", List.of("8080"))))));
    }

    @Test
    void aPolicyWithoutASpecOrWithAnotherKindOfSpecKeepsWhatItHas() {
        assertThat(ApiObjects.policy(json("""
                {"metadata": {"name": "p", "namespace": "shop"}}
                """)).spec()).isNull();
        assertThat(ApiObjects.policy(json("""
                {"metadata": {"name": "p", "namespace": "shop"}, "spec": null}
                """)).spec()).isNull();
        assertThat(ApiObjects.policy(json("""
                {"metadata": {"name": "p", "namespace": "shop"}, "spec": "allow everything"}
                """)).spec()).isEqualTo("allow everything");
        assertThat(ApiObjects.policy(json("""
                {"metadata": {"name": "p", "namespace": "shop"}, "spec": [1, 2]}
                """)).spec()).isEqualTo(List.of(1, 2));
    }

    private static JsonNode json(String text) {
        try {
            return JSON.readTree(text);
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }
}
