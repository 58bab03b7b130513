package io.nodemesh.daemonset;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.yaml.snakeyaml.Yaml;

/**
 * The Kustomize directories of this module rendered by {@code kubectl kustomize} and read strictly into fabric8's
 * model types: a document of a kind fabric8 does not know, or with a field its type does not have, fails.
 */
record Manifests(String source, List<HasMetadata> objects) {

    /** The module's directory (surefire runs in it). */
    static final Path MODULE = Path.of("").toAbsolutePath();
    /** The default install, {@code kubectl apply -k daemonset/}. */
    static final Path DEFAULT = MODULE;
    /** The base the overlays build on. */
    static final Path BASE = MODULE.resolve("base");
    /** The local kind cluster's overlay. */
    static final Path KIND = MODULE.resolve("overlays/kind");
    /** The overlay that hosts the telemetry agent in the proxy's container (one JVM per node). */
    static final Path ONE_PROCESS = MODULE.resolve("overlays/one-process");

    private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();

    /** {@code kubectl kustomize dir}, read strictly. */
    static Manifests render(Path dir) {
        return parse(dir.toString(), kustomize(dir));
    }

    /** Reads every document of {@code yaml} (from {@code source}) strictly; fails naming the document and the field. */
    static Manifests parse(String source, String yaml) {
        List<HasMetadata> objects = new ArrayList<>();
        int index = 0;
        for (String document : yaml.split("(?m)^---\\s*$")) {
            if (document.isBlank()) {
                continue;
            }
            String where = source + " document " + index++;
            Object parsed;
            try {
                parsed = SERIALIZATION.unmarshal(document);
            } catch (IllegalArgumentException e) {
                // A type without an any-setter refuses an unknown field itself; so does a value of the wrong type.
                throw new AssertionError(where + ": " + e.getMessage(), e);
            }
            if (!(parsed instanceof HasMetadata object) || parsed instanceof GenericKubernetesResource) {
                throw new AssertionError(where + ": not a kind the fabric8 model knows: " + parsed);
            }
            Object tree = new Yaml().load(document);
            List<String> problems = StrictModel.problems(object, tree);
            if (!problems.isEmpty()) {
                throw new AssertionError(where + " (" + object.getKind() + " " + object.getMetadata().getName()
                        + "): fields the model does not have: " + String.join("; ", problems));
            }
            objects.add(object);
        }
        return new Manifests(source, List.copyOf(objects));
    }

    @Override
    public String toString() {
        return source; // test names
    }

    /** Every object of {@code type}. */
    <T extends HasMetadata> List<T> all(Class<T> type) {
        return objects.stream().filter(type::isInstance).map(type::cast).toList();
    }

    /** The one object of {@code type}. */
    <T extends HasMetadata> T one(Class<T> type) {
        List<T> found = all(type);
        if (found.size() != 1) {
            throw new AssertionError(source + ": expected one " + type.getSimpleName() + ", found " + found.size());
        }
        return found.getFirst();
    }

    /** The nodemesh DaemonSet's pod spec. */
    PodSpec pod() {
        return one(DaemonSet.class).getSpec().getTemplate().getSpec();
    }

    /** The container or init container {@code name} of the DaemonSet's pod. */
    /** Whether the pod has a container (or init container) {@code name}. */
    boolean has(String name) {
        PodSpec pod = pod();
        return Stream.concat(pod.getInitContainers().stream(), pod.getContainers().stream())
                .anyMatch(c -> c.getName().equals(name));
    }

    /** The container that serves the agent's /metrics: the telemetry agent's, or the proxy's when it hosts it. */
    Container metricsContainer() {
        return has("telemetry-agent") ? container("telemetry-agent") : container("node-proxy");
    }

    Container container(String name) {
        PodSpec pod = pod();
        return Stream.concat(pod.getInitContainers().stream(), pod.getContainers().stream())
                .filter(c -> c.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(source + ": no container " + name));
    }

    /** The pod's volume {@code name}. */
    io.fabric8.kubernetes.api.model.Volume volume(String name) {
        return pod().getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
                .orElseThrow(() -> new AssertionError(source + ": no volume " + name));
    }

    /** The repository's file {@code relative} (the module sits one level below the root). */
    static Path repository(String relative) {
        return MODULE.getParent().resolve(relative);
    }

    private static String kustomize(Path dir) {
        List<String> command = List.of("kubectl", "kustomize", dir.toString());
        Process process;
        try {
            process = new ProcessBuilder(command).redirectErrorStream(false).start();
        } catch (IOException e) {
            // In CI the manifests must be rendered: a missing kubectl fails the build, it does not skip the checks.
            throw new AssertionError("cannot run kubectl to render " + dir + " (" + e.getMessage() + "): the "
                    + "daemonset tests need kubectl 1.27+ (Kustomize v5) on PATH", e);
        }
        try (InputStream out = process.getInputStream(); InputStream err = process.getErrorStream()) {
            Path errors = Files.createTempFile("kustomize", ".err");
            Thread drain = Thread.ofPlatform().start(() -> {
                try {
                    Files.copy(err, errors, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                } catch (IOException ignored) {
                    // the exit status still tells
                }
            });
            String yaml = new String(out.readAllBytes(), StandardCharsets.UTF_8);
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError(String.join(" ", command) + ": no answer in 60 s");
            }
            drain.join();
            String message = Files.readString(errors);
            Files.delete(errors);
            if (process.exitValue() != 0) {
                throw new AssertionError(String.join(" ", command) + " failed (" + process.exitValue() + "): "
                        + message);
            }
            return yaml;
        } catch (IOException e) {
            throw new AssertionError(String.join(" ", command) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** A map view of a YAML/JSON text (for round trips). */
    @SuppressWarnings("unchecked")
    static Map<String, Object> tree(String text) {
        return (Map<String, Object>) new Yaml().load(text);
    }

    /** The object as fabric8 writes it back. */
    static String json(Object model) {
        return SERIALIZATION.asJson(model);
    }
}
