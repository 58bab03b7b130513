package io.nodemesh.daemonset;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.server.mock.KubernetesCrudDispatcher;
import io.fabric8.kubernetes.client.server.mock.KubernetesMockServer;
import io.fabric8.mockwebserver.Context;
import io.fabric8.mockwebserver.MockWebServer;
import io.fabric8.mockwebserver.http.Dispatcher;
import io.fabric8.mockwebserver.http.MockResponse;
import io.fabric8.mockwebserver.http.RecordedRequest;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.regex.Pattern;

/**
 * fabric8's API mock in CRUD mode on loopback over HTTPS, as a cluster's API server is reached from a pod. The mock
 * answers a {@code spec.nodeName} field selector with no pod at all; the selector is taken out here (as in
 * kubernetes-source's MockApi), so the proxy's own-node watch sees the pods and drops other nodes' itself.
 */
final class ApiMock implements AutoCloseable {

    private static final Pattern NODE_SELECTOR = Pattern.compile("fieldSelector=spec\\.nodeName%3D[^&]*&?");

    private final MockWebServer web = new MockWebServer();
    private final KubernetesMockServer server;
    /** Writes straight to the mock. */
    final KubernetesClient admin;

    ApiMock() {
        server = new KubernetesMockServer(new Context(), web, new HashMap<>(),
                new WithoutNodeSelector(new KubernetesCrudDispatcher()), true);
        server.init(InetAddress.getLoopbackAddress(), 0);
        admin = server.createClient();
    }

    /** Where it listens, on this namespace's loopback. */
    InetSocketAddress address() {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), server.getPort());
    }

    /** Its self-signed certificate (PEM): the cluster CA a pod finds in its service account's {@code ca.crt}. */
    Path certificate() {
        return Path.of(web.getSelfSignedCertificate().certificatePath());
    }

    private static final class WithoutNodeSelector extends Dispatcher {
        private final Dispatcher crud;

        WithoutNodeSelector(Dispatcher crud) {
            this.crud = crud;
        }

        @Override
        public MockResponse dispatch(RecordedRequest request) {
            String path = request.getPath();
            String without = NODE_SELECTOR.matcher(path).replaceAll("");
            if (without.endsWith("?") || without.endsWith("&")) {
                without = without.substring(0, without.length() - 1);
            }
            return crud.dispatch(path.equals(without) ? request : new RecordedRequest(request.getHttpVersion(),
                    request.method(), without, request.getHeaders(), request.getBody()));
        }

        @Override
        public void shutdown() {
            crud.shutdown();
        }
    }

    @Override
    public void close() {
        admin.close();
        try {
            server.destroy();
        } catch (IllegalStateException e) {
            // Vert.x did not stop within the mock's 10 s on a loaded machine: its port goes with the JVM
            System.err.println("API mock: " + e.getMessage());
        }
    }
}
