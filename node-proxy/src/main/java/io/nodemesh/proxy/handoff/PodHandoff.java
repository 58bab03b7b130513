package io.nodemesh.proxy.handoff;

import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.CaptureState;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pods the CNI plugin hands over: each one's network namespace (the descriptor the plugin sent, held open here)
 * and addresses, laid over the source's snapshot so the reconciler captures the pod in exactly that namespace, and
 * the plugin's answer, given once the capture is in place.
 *
 * <p>Everything here runs on the proxy's control thread; requests arrive from the control socket's threads through
 * {@link #add}, {@link #delete} and {@link #check}, which return at once with a future.
 *
 * <p>A namespace handle is closed only when no capture uses its path any more (its {@code /proc/<pid>/fd/<n>} path is
 * how listeners and rules reach it: closing the descriptor while a capture still refers to it would leave that path
 * dangling, or pointing at whatever file takes the number next).
 */
public final class PodHandoff implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(PodHandoff.class);

    /** What the proxy answers the plugin: a state on success, or the refusal. */
    public record Reply(boolean ok, String state, String detail, int code) {
        static Reply success(String state, String detail) {
            return new Reply(true, state, detail, 0);
        }

        static Reply error(int code, String message) {
            return new Reply(false, "", message, code);
        }
    }

    /** What the proxy needs from its composition root. */
    public interface Host {
        /** Applies the source's latest snapshot again, overlaid (see {@link #overlay}); on the control thread. */
        void reapply();

        /** The capture state of a pod of this node by key, or null when the reconciler does not know it. */
        CaptureState captureState(String key);

        /** The namespace paths the reconciler's captures (running or draining) use now. */
        Set<Path> netnsInUse();
    }

    private record Handed(HandoffRequest request, NetworkNamespace netns) {}

    /** A request waiting for its answer; for a DEL, {@code netns} is the path its pod's capture used. */
    private record Waiter(HandoffRequest request, CompletableFuture<Reply> reply, long deadlineNanos, Path netns) {}

    private final ScheduledExecutorService control;
    private final Host host;
    private final Duration addTimeout;
    private final Duration delTimeout;
    private final Map<String, Handed> live = new HashMap<>();
    /** Keys of pods the plugin deleted (with the sandbox), kept uncaptured until the source drops them or re-added. */
    private final Map<String, String> deleted = new HashMap<>();
    private final List<NetworkNamespace> retired = new ArrayList<>();
    private final List<Waiter> adds = new ArrayList<>();
    private final List<Waiter> dels = new ArrayList<>();
    private MeshSnapshot source = MeshSnapshot.empty();
    private boolean closed;
    private boolean settling;
    private boolean again;

    /**
     * @param control the proxy's control thread
     * @param addTimeout how long an ADD waits for the pod to be seen and captured before it is refused (try again)
     * @param delTimeout how long a DEL waits for the pod's capture to be gone before it is answered anyway
     */
    public PodHandoff(ScheduledExecutorService control, Host host, Duration addTimeout, Duration delTimeout) {
        this.control = control;
        this.host = host;
        this.addTimeout = addTimeout;
        this.delTimeout = delTimeout;
    }

    /**
     * The snapshot the reconciler applies: {@code fromSource} with each handed pod's namespace (and, where the source
     * has none yet, its addresses), a deleted pod uncaptured, and any other pod's claim on a handed address dropped
     * (the kernel has given that address to the new sandbox). On the control thread.
     */
    public MeshSnapshot overlay(MeshSnapshot fromSource) {
        source = fromSource;
        deleted.keySet().removeIf(key -> !fromSource.pods().containsKey(key));
        if (live.isEmpty() && deleted.isEmpty()) {
            return fromSource;
        }
        Set<InetAddress> handedIps = new HashSet<>();
        for (Handed h : live.values()) {
            PodSpec p = fromSource.pods().get(h.request().key());
            if (p != null && p.capture()) {
                handedIps.addAll(p.ips().isEmpty() ? h.request().ips() : p.ips());
            }
        }
        List<PodSpec> pods = new ArrayList<>(fromSource.pods().size());
        for (PodSpec p : fromSource.pods().values()) {
            Handed h = live.get(p.key());
            if (h != null && p.capture()) {
                pods.add(p.handed(h.netns().path(), p.ips().isEmpty() ? h.request().ips() : p.ips()));
            } else if (deleted.containsKey(p.key()) && p.capture()) {
                pods.add(p.uncaptured());
            } else if (p.ips().stream().anyMatch(handedIps::contains)) {
                pods.add(p.withIps(p.ips().stream().filter(ip -> !handedIps.contains(ip)).toList()));
            } else {
                pods.add(p);
            }
        }
        return new MeshSnapshot(fromSource.proxy(), List.copyOf(fromSource.namespaces().values()), pods,
                List.copyOf(fromSource.services().values()), fromSource.policies());
    }

    /** The ADD a pod is captured for, or null when the plugin did not hand it over (or released it). Control thread. */
    public HandoffRequest handed(String key) {
        Handed h = live.get(key);
        return h == null ? null : h.request();
    }

    /**
     * Takes over the proxy before this one's record of a pod the plugin handed it ({@code request}, the pod's
     * namespace {@code netns}, owned from now on): the pod is captured here as if its ADD had come here, with nobody
     * waiting for an answer, and a later DEL releases it. Control thread, before the first snapshot is applied.
     */
    public void inherit(HandoffRequest request, NetworkNamespace netns) {
        Handed before = live.put(request.key(), new Handed(request, netns));
        if (before != null) {
            retired.add(before.netns());
        }
        log.info("pod {}: its CNI handoff taken over from the proxy before (container {}, {})", request.key(),
                request.containerId(), request.ips());
    }

    /**
     * Hands a pod over: answers once it is captured in {@code netns}, or when the proxy's view says it is not to be
     * captured, or with the reason it cannot be. Takes ownership of {@code netns}.
     */
    public CompletableFuture<Reply> add(HandoffRequest request, NetworkNamespace netns) {
        CompletableFuture<Reply> reply = new CompletableFuture<>();
        control.execute(() -> {
            if (closed) {
                netns.close();
                reply.complete(Reply.error(11, "the nodemesh proxy is shutting down"));
                return;
            }
            Handed before = live.put(request.key(), new Handed(request, netns));
            if (before != null) {
                retired.add(before.netns());
            }
            deleted.remove(request.key());
            for (Waiter w : List.copyOf(adds)) {
                if (w.request().key().equals(request.key())) {
                    adds.remove(w);
                    w.reply().complete(Reply.error(11, "superseded by a newer ADD of pod " + request.key()
                            + " (container " + request.containerId() + ")"));
                }
            }
            adds.add(new Waiter(request, reply, System.nanoTime() + addTimeout.toNanos(), null));
            log.info("pod {}: handed over by the CNI plugin (container {}, {}, {})", request.key(),
                    request.containerId(), request.ips(), request.netnsPath());
            host.reapply();
            settle();
            control.schedule(this::settle, addTimeout.toMillis() + 10, TimeUnit.MILLISECONDS);
        });
        return reply;
    }

    /**
     * Releases a pod whose sandbox is going away: its capture closes (rules and listeners go), then the answer. A pod
     * the proxy never had, or another sandbox's DEL, is answered at once: there is nothing to release.
     */
    public CompletableFuture<Reply> delete(HandoffRequest request) {
        CompletableFuture<Reply> reply = new CompletableFuture<>();
        control.execute(() -> {
            Handed h = live.get(request.key());
            boolean sameSandbox = h != null && h.request().containerId().equals(request.containerId());
            PodSpec p = source.pods().get(request.key());
            // Captured in a namespace the source found (a proxy restarted since the ADD finds it by its address).
            boolean capturedFromElsewhere = h == null && p != null && p.capture() && p.netns() != null;
            if (!sameSandbox && !capturedFromElsewhere) {
                reply.complete(Reply.success("released", h == null ? "nothing to release for pod " + request.key()
                        : "pod " + request.key() + " is held for another container (" + h.request().containerId()
                        + "): nothing released"));
                return;
            }
            Path used = sameSandbox ? h.netns().path() : p.netns();
            if (sameSandbox) {
                live.remove(request.key());
                retired.add(h.netns());
            }
            deleted.put(request.key(), request.containerId());
            for (Waiter w : List.copyOf(adds)) {
                if (w.request().key().equals(request.key())) {
                    adds.remove(w);
                    w.reply().complete(Reply.error(11, "pod " + request.key() + " was deleted while being captured"));
                }
            }
            dels.add(new Waiter(request, reply, System.nanoTime() + delTimeout.toNanos(), used));
            log.info("pod {}: released by the CNI plugin (container {})", request.key(), request.containerId());
            host.reapply();
            settle();
            control.schedule(this::settle, delTimeout.toMillis() + 10, TimeUnit.MILLISECONDS);
        });
        return reply;
    }

    /** Whether the pod is captured in the namespace the plugin handed for this container. */
    public CompletableFuture<Reply> check(HandoffRequest request) {
        CompletableFuture<Reply> reply = new CompletableFuture<>();
        control.execute(() -> {
            Handed h = live.get(request.key());
            CaptureState state = host.captureState(request.key());
            if (h == null || !h.request().containerId().equals(request.containerId())) {
                PodSpec p = source.pods().get(request.key());
                if (p != null && !p.capture()) {
                    reply.complete(Reply.success("not_captured", "not a mesh workload"));
                } else if (h == null && p != null && p.netns() != null && state != null
                        && state.phase() == CaptureState.Phase.CAPTURED && sameNamespace(p.netns(), request.netnsPath())) {
                    // A proxy restarted since the ADD holds no descriptor for the pod, but found its namespace itself
                    // (the /proc scan) and captured it there: the namespace the runtime names is that one.
                    reply.complete(Reply.success("captured", "captured in the namespace the proxy found itself"));
                } else {
                    reply.complete(Reply.error(110, "pod " + request.key() + " (container " + request.containerId()
                            + ") was not handed to this proxy" + (h == null && p != null && p.netns() != null
                                    ? ", and is " + state + " in " + p.netns() + ", not in " + request.netnsPath()
                                    : "")));
                }
            } else if (state != null && state.phase() == CaptureState.Phase.CAPTURED) {
                reply.complete(Reply.success("captured", ""));
            } else {
                reply.complete(Reply.error(110, "pod " + request.key() + " is " + state));
            }
        });
        return reply;
    }

    /**
     * Whether two paths name the same network namespace: the same nsfs inode, whatever the path ({@code
     * /proc/<pid>/ns/net}, a runtime's bind mount under {@code /var/run/netns}). A stat of each: no blocking worth the
     * name on the control thread.
     */
    private static boolean sameNamespace(Path captured, String named) {
        if (named.isEmpty()) {
            return false;
        }
        try {
            Path other = Path.of(named);
            return Files.getAttribute(captured, "unix:ino").equals(Files.getAttribute(other, "unix:ino"))
                    && Files.getAttribute(captured, "unix:dev").equals(Files.getAttribute(other, "unix:dev"));
        } catch (IOException | RuntimeException gone) {
            return false; // either path is gone or not a file: not the same namespace as far as anyone can tell
        }
    }

    /**
     * Answers what can be answered now and closes the namespace handles no capture uses any more; on the control
     * thread, after every snapshot applied and every capture state published.
     */
    public void settle() {
        // Re-entered when an answer reapplies the snapshot (the reconciler publishes, and its listener settles):
        // the inner call only asks for another round.
        if (settling) {
            again = true;
            return;
        }
        settling = true;
        try {
            do {
                again = false;
                settleOnce();
            } while (again);
        } finally {
            settling = false;
        }
    }

    private void settleOnce() {
        long now = System.nanoTime();
        for (Iterator<Waiter> it = adds.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            Reply reply = addOutcome(w, now);
            if (reply != null) {
                it.remove();
                w.reply().complete(reply);
                if (!reply.ok() || !reply.state().equals("captured")) {
                    Handed h = live.get(w.request().key());
                    if (h != null && h.request() == w.request()) {
                        live.remove(w.request().key());
                        retired.add(h.netns());
                        host.reapply();
                    }
                }
            }
        }
        Set<Path> inUse = host.netnsInUse();
        for (Iterator<NetworkNamespace> it = retired.iterator(); it.hasNext(); ) {
            NetworkNamespace ns = it.next();
            if (closed || !inUse.contains(ns.path())) {
                it.remove();
                ns.close();
            }
        }
        for (Iterator<Waiter> it = dels.iterator(); it.hasNext(); ) {
            Waiter w = it.next();
            boolean gone = w.netns() == null || !inUse.contains(w.netns());
            if (gone || now - w.deadlineNanos() >= 0 || closed) {
                it.remove();
                w.reply().complete(Reply.success("released", gone ? "" : "the capture was still closing after "
                        + delTimeout.toSeconds() + " s"));
            }
        }
    }

    private Reply addOutcome(Waiter w, long now) {
        String key = w.request().key();
        PodSpec pod = source.pods().get(key);
        boolean late = now - w.deadlineNanos() >= 0 || closed;
        if (pod == null) {
            return late ? Reply.error(11, "the nodemesh proxy has not seen pod " + key + " in its view of the cluster"
                    + " within " + addTimeout.toSeconds() + " s; try again") : null;
        }
        if (!pod.capture()) {
            return Reply.success("not_captured", pod.meshed() ? "not captured on this node" : "not a mesh workload");
        }
        CaptureState state = host.captureState(key);
        if (state != null && state.phase() == CaptureState.Phase.CAPTURED) {
            return Reply.success("captured", "");
        }
        if (state != null && state.phase() == CaptureState.Phase.FAILED) {
            return Reply.error(110, "capture of pod " + key + " failed: " + state);
        }
        return late ? Reply.error(11, "capture of pod " + key + " not in place within " + addTimeout.toSeconds()
                + " s (" + state + ")") : null;
    }

    /**
     * Answers every request still waiting and closes every handle; on the control thread, after the captures were
     * released.
     */
    @Override
    public void close() {
        closed = true;
        for (Handed h : live.values()) {
            retired.add(h.netns());
        }
        live.clear();
        settle();
    }
}
