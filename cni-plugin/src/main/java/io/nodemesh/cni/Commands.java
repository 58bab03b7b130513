package io.nodemesh.cni;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * What ADD, DEL, CHECK and STATUS do (docs/cni.md, "The plugin's decision on ADD"), apart from reading stdin and
 * printing: a pod of an excluded namespace is passed through without reading a file; otherwise the enrolment file
 * decides, and only a pod of an enrolled namespace waits for the proxy, which must answer before the pod may start.
 */
final class Commands {

    /** What a call ends with: the result to print ({@code null}: nothing), and the state file's result and detail. */
    record Outcome(Map<String, Object> print, String result, String detail) {
    }

    private final ProxyClient proxy;
    private final ProxyClient.Namespaces namespaces;

    Commands(ProxyClient proxy, ProxyClient.Namespaces namespaces) {
        this.proxy = proxy;
        this.namespaces = namespaces;
    }

    Outcome add(Invocation call, PluginConfig config) throws CniError {
        if (config.prevResult() == null) {
            throw new CniError(CniError.INVALID_CONFIG, "invalid network configuration: no prevResult",
                    "nodemesh-cni is chained after the plugin that sets up the pod's interface and passes its result on;"
                            + " it got none (is it first in the conflist?)");
        }
        Map<String, Object> result = PrevResult.asVersion(config.prevResult(), config.cniVersion());
        String namespace = call.pod().namespace();
        if (config.excludeNamespaces().contains(namespace)) {
            return new Outcome(result, "excluded", "namespace " + namespace + " is excluded");
        }
        if (!enrolled(config).contains(namespace)) {
            return new Outcome(result, "passed_through", "namespace " + namespace + " is not enrolled");
        }
        List<String> ips = PrevResult.addresses(config.prevResult());
        if (call.pod().uid().isEmpty()) {
            throw new CniError(CniError.INVALID_ENVIRONMENT, "invalid environment: CNI_ARGS",
                    "CNI_ARGS has no K8S_POD_UID, which the nodemesh proxy needs to capture pod " + call.pod());
        }
        int fd = openNamespace(call.netns());
        try {
            ControlMessage.Reply reply = exchange(config, call, ControlMessage.request(call, ips), OptionalInt.of(fd));
            return new Outcome(result, reply.state().isEmpty() ? "captured" : reply.state(), reply.detail());
        } finally {
            namespaces.close(fd);
        }
    }

    Outcome check(Invocation call, PluginConfig config) throws CniError {
        if (config.prevResult() == null) {
            throw new CniError(CniError.INVALID_CONFIG, "invalid network configuration: no prevResult",
                    "CHECK needs the prevResult of the pod's ADD");
        }
        String namespace = call.pod().namespace();
        if (config.excludeNamespaces().contains(namespace)) {
            return new Outcome(null, "excluded", "namespace " + namespace + " is excluded");
        }
        if (!enrolled(config).contains(namespace)) {
            return new Outcome(null, "passed_through", "namespace " + namespace + " is not enrolled");
        }
        ControlMessage.Reply reply = exchange(config, call, ControlMessage.request(call, null), OptionalInt.empty());
        return new Outcome(null, reply.state(), reply.detail());
    }

    /**
     * Releases the pod. Nothing to release is success: an excluded namespace, a pod the runtime did not name, no
     * socket, a proxy that does not answer. A proxy that answers {@code ok:false} failed to release what it holds,
     * and that is an error (the runtime retries DEL).
     */
    Outcome del(Invocation call, PluginConfig config) throws CniError {
        if (call.pod() == null) {
            return new Outcome(null, "released", "CNI_ARGS names no pod: nothing to release");
        }
        if (config.excludeNamespaces().contains(call.pod().namespace())) {
            return new Outcome(null, "excluded", "namespace " + call.pod().namespace() + " is excluded");
        }
        if (!Files.exists(config.controlSocket())) {
            return new Outcome(null, "released", "no control socket at " + config.controlSocket() + ": nothing to release");
        }
        try {
            byte[] bytes = proxy.call(config.controlSocket(), config.timeout(), ControlMessage.request(call, null),
                    OptionalInt.empty());
            ControlMessage.Reply reply = ControlMessage.reply(bytes);
            if (!reply.ok()) {
                throw new CniError(reply.code(), "the nodemesh proxy could not release pod " + call.pod(), reply.error());
            }
            return new Outcome(null, reply.state().isEmpty() ? "released" : reply.state(), reply.detail());
        } catch (IOException e) {
            return new Outcome(null, "released", "the nodemesh proxy at " + config.controlSocket()
                    + " did not take the DEL (" + e.getMessage() + "): nothing to release");
        }
    }

    /**
     * Ready for ADD when the enrolment is known: then every pod is either passed through or sent to the proxy, and a
     * proxy that is down fails only its own pods' ADDs, which the runtime retries. Not ready (50) when the proxy has
     * never published enrolment since boot: every ADD outside the excluded namespaces would fail. A proxy that is
     * down is not reported here: runtimes turn a failed STATUS into the node's network being not ready, which would
     * hold up the pods of namespaces that are not enrolled too.
     */
    Outcome status(PluginConfig config) throws CniError {
        try {
            Set<String> enrolled = EnrolmentFile.enrolledNamespaces(config.enrolmentFile());
            return new Outcome(null, "ready", enrolled.size() + " enrolled namespaces");
        } catch (CniError e) {
            throw new CniError(CniError.NOT_AVAILABLE, "nodemesh-cni is not available: " + e.getMessage(), e.details());
        }
    }

    private static Set<String> enrolled(PluginConfig config) throws CniError {
        return EnrolmentFile.enrolledNamespaces(config.enrolmentFile());
    }

    private int openNamespace(String netns) throws CniError {
        try {
            return namespaces.openNetwork(Path.of(netns));
        } catch (ProxyClient.NotANamespace e) {
            throw new CniError(CniError.INVALID_ENVIRONMENT, "invalid environment: CNI_NETNS",
                    "CNI_NETNS " + netns + " is not a network namespace: " + e.getMessage());
        } catch (IOException | InvalidPathException e) {
            throw new CniError(CniError.INVALID_ENVIRONMENT, "invalid environment: CNI_NETNS",
                    "CNI_NETNS " + netns + " cannot be opened: " + e.getMessage());
        }
    }

    private ControlMessage.Reply exchange(PluginConfig config, Invocation call, byte[] request, OptionalInt fd)
            throws CniError {
        Path socket = config.controlSocket();
        byte[] bytes;
        try {
            if (!Files.exists(socket)) {
                throw new ProxyClient.Unreachable("there is no socket file " + socket, null);
            }
            bytes = proxy.call(socket, config.timeout(), request, fd);
        } catch (ProxyClient.Unreachable e) {
            throw new CniError(CniError.TRY_AGAIN_LATER, "the nodemesh proxy is not reachable at " + socket,
                    "pod " + call.pod() + " is in enrolled namespace " + call.pod().namespace()
                            + " and will not start uncaptured; the runtime retries (" + e.getMessage() + ")");
        } catch (ProxyClient.TimedOut e) {
            throw new CniError(CniError.TRY_AGAIN_LATER, "the nodemesh proxy at " + socket + " did not answer in "
                    + config.timeout().toSeconds() + " s",
                    "pod " + call.pod() + " is in enrolled namespace " + call.pod().namespace()
                            + " and will not start uncaptured; the runtime retries");
        } catch (IOException e) {
            throw new CniError(CniError.TRY_AGAIN_LATER, "the exchange with the nodemesh proxy at " + socket + " failed",
                    "pod " + call.pod() + " will not start uncaptured; the runtime retries (" + e + ")");
        }
        ControlMessage.Reply reply = ControlMessage.reply(bytes);
        if (!reply.ok()) {
            throw new CniError(reply.code(), "the nodemesh proxy did not capture pod " + call.pod(), reply.error());
        }
        return reply;
    }
}
