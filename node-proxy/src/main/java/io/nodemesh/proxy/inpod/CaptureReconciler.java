package io.nodemesh.proxy.inpod;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.CaptureFailure;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.proxy.redirect.PodRules;
import io.nodemesh.rules.CaptureMode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings the captured pods in line with a new config snapshot by diffing it with the previous one:
 * an added pod gets listeners, then rules (so nothing is redirected to a closed port); a removed or
 * no-longer-captured pod stops accepting, its connections drain, then its rules go; a changed pod
 * is released and captured again (the new capture replaces the rules); an unchanged pod is not
 * touched. Runs on one thread: the timer's, which is single-threaded; pods added together are captured on a few
 * threads of their own meanwhile ({@link #PARALLEL_CAPTURES}), the timer's thread waiting for them.
 *
 * <p>Every pod it captures is {@code pending} until its listeners and rules are in place, then {@code captured} or
 * {@code failed(reason)}; a pod it lets go is {@code released}. Each change is published as a {@link CaptureReport}
 * (see {@link #report()}), and every failed attempt is counted by its reason.
 *
 * <p>Why rules go last: when the last NAT rule of a namespace is deleted, the kernel drops the NAT
 * bindings of the connections it redirected (measured on 6.18 with iptables-nft: they are reset),
 * so removing the rules first would cut the very connections the drain is meant to let finish. The
 * price is that new connections from a pod being released are refused until its drain ends.
 */
public final class CaptureReconciler {

    private static final Logger log = LoggerFactory.getLogger(CaptureReconciler.class);
    /**
     * The most pods captured at once, on threads of their own beside the timer's, which waits for them: two per
     * processor the proxy may run on (a capture waits for the event loop and the kernel part of the time), at most 8.
     */
    static final int PARALLEL_CAPTURES = Math.min(8, 2 * Runtime.getRuntime().availableProcessors());

    private final BiFunction<PodSpec, ProxySettings, PodCapture> captures;
    private final Function<RulesBackend, PodRules> rules;
    private final ScheduledExecutorService timer;
    private final Map<String, PodCapture> running = new LinkedHashMap<>();
    private final Map<PodCapture, CompletableFuture<Void>> draining = new ConcurrentHashMap<>();
    private final Keeper keeper;
    private final CaptureStates states;
    private final Runnable published;
    private volatile List<PodCapture> view = List.of();

    /**
     * @param captures makes a (not yet open) capture for a pod under the given settings
     * @param rules the rule installer for a backend
     * @param timer runs drain deadlines
     * @param reports hears every changed {@link CaptureReport}, on the timer's thread
     * @param published runs after every publication, on the timer's thread, whether the report changed or not: what
     *     the captures use may have changed even when no state did (a released pod's drain finished, its rules gone)
     */
    public CaptureReconciler(BiFunction<PodSpec, ProxySettings, PodCapture> captures,
                             Function<RulesBackend, PodRules> rules, ScheduledExecutorService timer,
                             Consumer<CaptureReport> reports, Runnable published, Keeper keeper) {
        this.keeper = keeper;
        this.captures = captures;
        this.rules = rules;
        this.timer = timer;
        this.states = new CaptureStates(reports);
        this.published = published;
    }

    /**
     * Who holds the captured pods' listeners beside the proxy (the listener keeper, docs/upgrade.md): told of a pod
     * once it is captured, and before its listeners close when it is let go; not when the proxy stops. On the timer's
     * thread.
     */
    public interface Keeper {
        void kept(PodCapture pod);

        void forget(PodCapture pod);
    }

    /** Applies {@code next}, given that {@code previous} is what is in force now. Call on the timer's thread. */
    public void reconcile(MeshSnapshot previous, MeshSnapshot next) {
        ProxySettings before = previous.proxy();
        ProxySettings after = next.proxy();
        boolean everyPod = before.podsAffectedBy(after);
        for (PodCapture pod : new ArrayList<>(running.values())) {
            PodSpec wanted = next.pods().get(pod.spec().key());
            boolean stillCaptured = wanted != null && wanted.capture();
            boolean keep = !everyPod && stillCaptured && wanted.equals(pod.spec())
                    && pod.state() != PodCapture.State.FAILED;
            if (keep) {
                if (!before.keepalive().equals(after.keepalive())) {
                    pod.keepaliveChanged(after.keepalive());
                }
                continue;
            }
            if (stillCaptured && after.rules() == RulesBackend.NONE && before.rules() != RulesBackend.NONE) {
                removeRules(pod.spec(), before); // nobody would replace them
            }
            // Its listeners close now: the keeper lets go of them first (else they would go on listening there,
            // and the port would not be free for the pod's new capture).
            keeper.forget(pod);
            // A pod that stays captured gets its rules replaced by the new capture; only a released one loses them.
            release(pod, before, !stillCaptured);
            if (!stillCaptured && wanted != null) {
                states.released(wanted);
            }
        }
        states.retain(next);
        List<PodCapture> pending = new ArrayList<>();
        List<PodSpec> awaiting = new ArrayList<>();
        for (PodSpec spec : next.pods().values()) {
            if (spec.capture() && spec.netns() == null && spec.ips().isEmpty()) {
                awaiting.add(spec); // its sandbox is not set up yet: the CNI plugin hands it over with its namespace
                continue;
            }
            if (spec.capture() && !running.containsKey(spec.key())) {
                PodCapture pod = captures.apply(spec, after);
                running.put(spec.key(), pod);
                pending.add(pod);
            }
        }
        states.awaiting(awaiting);
        if (!pending.isEmpty()) {
            publish(); // pending while their listeners and rules are set up
        }
        Set<PodCapture> failures = new HashSet<>(captureAll(pending, after));
        for (PodCapture pod : pending) {
            if (failures.contains(pod)) {
                failed(pod);
            } else {
                keeper.kept(pod);
            }
        }
        publish();
    }

    /**
     * Captures {@code pods}: one on the calling thread, more (a proxy starting or restarted on a node's pods, a
     * config that adds many) on up to {@link #PARALLEL_CAPTURES} platform threads of their own, each pod's listeners
     * then rules on one thread, since most of a capture is waiting (for the event loop to bind, for the kernel's
     * netlink answers, for {@code iptables-restore}). Returns the pods that failed, for the caller to count on its
     * own thread; they have logged nothing yet.
     */
    private List<PodCapture> captureAll(List<PodCapture> pods, ProxySettings settings) {
        List<PodCapture> failed = new ArrayList<>();
        if (pods.size() <= 1) {
            for (PodCapture pod : pods) {
                if (!capture(pod, settings)) {
                    failed.add(pod);
                }
            }
            return failed;
        }
        ConcurrentLinkedQueue<PodCapture> queue = new ConcurrentLinkedQueue<>(pods);
        Set<PodCapture> failures = ConcurrentHashMap.newKeySet();
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < Math.min(pods.size(), PARALLEL_CAPTURES); i++) {
            threads.add(Thread.ofPlatform().name("nodemesh-capture-" + i).daemon(true).start(() -> {
                for (PodCapture pod = queue.poll(); pod != null; pod = queue.poll()) {
                    if (!capture(pod, settings)) {
                        failures.add(pod);
                    }
                }
            }));
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the captures run to their end: a half-captured pod is worse than a wait
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        for (PodCapture pod : pods) { // in the order they came, for the log
            if (failures.contains(pod)) {
                failed.add(pod);
            }
        }
        return failed;
    }

    /** Opens the pod's listeners, then installs its rules; false (the pod marked failed) if either fails. */
    private boolean capture(PodCapture pod, ProxySettings settings) {
        PodSpec spec = pod.spec();
        try {
            pod.open();
        } catch (Exception e) {
            return false;
        }
        if (pod.rulesInherited() && settings.capture() != CaptureMode.EBPF) {
            return true; // the proxy before this one installed them; they point at ports, and the ports are ours now
        }
        // An eBPF capture's are looked at even then (kept when they are the plan's): its maps were taken over before
        // the listeners opened (PodCapture.open), and the programs that fill them must be there and the plan's, or
        // the pod fails saying why.
        try {
            rules.apply(settings.rules()).install(spec, settings);
            pod.rulesInstalled();
            return true;
        } catch (RuntimeException e) {
            pod.failed(CaptureFailure.RULES_FAILED, "cannot install redirect rules for pod " + spec.key() + " in "
                    + spec.netns() + ": " + e.getMessage());
            return false;
        }
    }

    private void failed(PodCapture pod) {
        log.error("{}", pod.lastError());
        states.failed(pod.captureState().reason());
    }

    /** Stops accepting, drains, then (if {@code dropRules} and the pod was not captured again meanwhile) removes its rules. */
    private CompletableFuture<Void> release(PodCapture pod, ProxySettings settings, boolean dropRules) {
        String key = pod.spec().key();
        running.remove(key);
        if (pod.state() == PodCapture.State.FAILED) {
            return CompletableFuture.completedFuture(null);
        }
        CompletableFuture<Void> released = pod.drain(settings.drainTimeout(), timer).handleAsync((v, t) -> {
            if (dropRules && !running.containsKey(key)) {
                removeRules(pod.spec(), settings);
            }
            draining.remove(pod);
            publish();
            return null;
        }, timer);
        draining.put(pod, released); // the continuation runs later on this same thread
        return released;
    }

    private void removeRules(PodSpec pod, ProxySettings settings) {
        try {
            rules.apply(settings.rules()).remove(pod, settings);
        } catch (RuntimeException e) {
            log.error("pod {}: cannot remove redirect rules in {}: {}", pod.key(), pod.netns(), e.getMessage());
        }
    }

    /** Releases every pod (rules only if {@code removeRules}) and drains; completes when all connections are gone. */
    public CompletableFuture<Void> releaseAll(ProxySettings settings, boolean removeRules) {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        done.addAll(draining.values());
        for (PodCapture pod : new ArrayList<>(running.values())) {
            if (removeRules) {
                keeper.forget(pod); // no longer captured: nothing to keep for a next proxy
            }
            done.add(release(pod, settings, removeRules));
            states.released(pod.spec());
        }
        publish();
        return CompletableFuture.allOf(done.toArray(CompletableFuture[]::new));
    }

    private void publish() {
        List<PodCapture> all = new ArrayList<>(running.values());
        for (PodCapture p : draining.keySet()) {
            if (!all.contains(p)) {
                all.add(p);
            }
        }
        view = List.copyOf(all);
        states.publish(running.values(), draining.keySet());
        published.run();
    }

    /** How this node's pods are captured now (the latest published report); safe from any thread. */
    public CaptureReport report() {
        return states.current();
    }

    /** The pods captured now (failed ones included) and those still draining; safe from any thread. */
    public List<PodCapture> pods() {
        return view;
    }
}
