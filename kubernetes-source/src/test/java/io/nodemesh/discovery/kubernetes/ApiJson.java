package io.nodemesh.discovery.kubernetes;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.UncheckedIOException;

/**
 * Objects built with fabric8 ({@link Resources}) as the source keeps them: written as the JSON the API sends, then read
 * into {@link ApiObjects} the way the source reads what it lists and watches.
 */
final class ApiJson {

    private static final KubernetesSerialization FABRIC8 = new KubernetesSerialization();
    private static final ObjectMapper JSON = new ObjectMapper();

    private ApiJson() {
    }

    static ApiObjects.Namespace of(Namespace namespace) {
        return ApiObjects.namespace(json(namespace));
    }

    static ApiObjects.Pod of(Pod pod) {
        return ApiObjects.pod(json(pod));
    }

    static ApiObjects.Service of(Service service) {
        return ApiObjects.service(json(service));
    }

    static ApiObjects.EndpointSlice of(EndpointSlice slice) {
        return ApiObjects.endpointSlice(json(slice));
    }

    static ApiObjects.Policy of(GenericKubernetesResource policy) {
        return ApiObjects.policy(json(policy));
    }

    /** {@code object}'s JSON, as Jackson reads it. */
    static JsonNode json(Object object) {
        try {
            return JSON.readTree(FABRIC8.asJson(object));
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
