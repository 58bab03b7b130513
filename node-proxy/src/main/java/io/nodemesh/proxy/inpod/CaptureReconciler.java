package io.nodemesh.proxy.inpod;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.model.CaptureFailure;
import io.nodemesh.proxy.model.CaptureReport;
import io.nodemesh.proxy.redirect.PodRules;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
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
 * touched. Runs on one thread: the timer's, which is single-threaded.
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

    private final BiFunction<PodSpec, ProxySettings, PodCapture> captures;
    private final Function<RulesBackend, PodRules> rules;
    private final ScheduledExecutorService timer;
    private final Map<String, PodCapture> running = new LinkedHashMap<>();
    private final Map<PodCapture, CompletableFuture<Void>> draining = new ConcurrentHashMap<>();
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
                             Consumer<CaptureReport> reports, Runnable published) {
        this.captures = captures;
        this.rules = rules;
        this.timer = timer;
        this.states = new CaptureStates(reports);
        this.published = published;
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
                continue;
            }
            if (stillCaptured && after.rules() == RulesBackend.NONE && before.rules() != RulesBackend.NONE) {
                removeRules(pod.spec(), before); // nobody would replace them
            }
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
            publish(); // pending while their listeners and rules are set up, one pod after the other
        }
        for (PodCapture pod : pending) {
            capture(pod, after);
        }
        publish();
    }

    private void capture(PodCapture pod, ProxySettings settings) {
        PodSpec spec = pod.spec();
        try {
            pod.open();
        } catch (Exception e) {
            failed(pod);
            return;
        }
        if (pod.rulesInherited()) {
            return; // the proxy before this one installed them; they point at ports, and the ports are ours now
        }
        try {
            rules.apply(settings.rules()).install(spec, settings);
        } catch (RuntimeException e) {
            pod.failed(CaptureFailure.RULES_FAILED, "cannot install redirect rules for pod " + spec.key() + " in "
                    + spec.netns() + ": " + e.getMessage());
            failed(pod);
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
