package io.nodemesh.proxy.capture;

import io.nodemesh.proxy.config.MeshConfig;
import io.nodemesh.proxy.config.PodSpec;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BiFunction;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings the captured pods in line with a new config snapshot by diffing it with the previous one:
 * an added pod gets listeners, then rules (so nothing is redirected to a closed port); a removed or
 * no-longer-captured pod loses its rules, then its listeners, and its connections drain; a changed
 * pod is removed and added; an unchanged pod is not touched. Runs on one thread: the timer's, which
 * is single-threaded.
 */
public final class CaptureReconciler {

    private static final Logger log = LoggerFactory.getLogger(CaptureReconciler.class);

    private final BiFunction<PodSpec, ProxySettings, PodCapture> captures;
    private final Function<RulesBackend, PodRules> rules;
    private final ScheduledExecutorService timer;
    private final Map<String, PodCapture> running = new LinkedHashMap<>();
    private final Set<PodCapture> draining = ConcurrentHashMap.newKeySet();
    private volatile List<PodCapture> view = List.of();

    /**
     * @param captures makes a (not yet open) capture for a pod under the given settings
     * @param rules the rule installer for a backend
     * @param timer runs drain deadlines
     */
    public CaptureReconciler(BiFunction<PodSpec, ProxySettings, PodCapture> captures,
                             Function<RulesBackend, PodRules> rules, ScheduledExecutorService timer) {
        this.captures = captures;
        this.rules = rules;
        this.timer = timer;
    }

    /** Applies {@code next}, given that {@code previous} is what is in force now. Call on the timer's thread. */
    public void reconcile(MeshConfig previous, MeshConfig next) {
        ProxySettings before = previous.proxy();
        ProxySettings after = next.proxy();
        boolean everyPod = before.podsAffectedBy(after);
        for (PodCapture pod : new ArrayList<>(running.values())) {
            PodSpec wanted = next.pods().get(pod.spec().key());
            boolean keep = !everyPod && wanted != null && wanted.capture() && wanted.equals(pod.spec())
                    && pod.state() != PodCapture.State.FAILED;
            if (!keep) {
                release(pod, before);
            }
        }
        for (PodSpec spec : next.pods().values()) {
            if (spec.capture() && !running.containsKey(spec.key())) {
                capture(spec, after);
            }
        }
        publish();
    }

    private void capture(PodSpec spec, ProxySettings settings) {
        PodCapture pod = captures.apply(spec, settings);
        running.put(spec.key(), pod);
        try {
            pod.open();
        } catch (Exception e) {
            log.error("{}", pod.lastError());
            return;
        }
        try {
            rules.apply(settings.rules()).install(spec, settings);
        } catch (RuntimeException e) {
            pod.failed("cannot install redirect rules for pod " + spec.key() + " in " + spec.netns() + ": "
                    + e.getMessage());
            log.error("{}", pod.lastError());
        }
    }

    private void release(PodCapture pod, ProxySettings settings) {
        running.remove(pod.spec().key());
        if (pod.state() == PodCapture.State.FAILED) {
            return;
        }
        try {
            rules.apply(settings.rules()).remove(pod.spec(), settings);
        } catch (RuntimeException e) {
            log.error("pod {}: cannot remove redirect rules in {}: {}", pod.spec().key(), pod.spec().netns(),
                    e.getMessage());
        }
        draining.add(pod);
        pod.drain(settings.drainTimeout(), timer).whenCompleteAsync((v, t) -> {
            draining.remove(pod);
            publish();
        }, timer);
    }

    /** Releases every pod (rules only if {@code removeRules}) and drains; completes when all connections are gone. */
    public CompletableFuture<Void> releaseAll(ProxySettings settings, boolean removeRules) {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        for (PodCapture pod : List.copyOf(draining)) {
            done.add(pod.drain(settings.drainTimeout(), timer));
        }
        for (PodCapture pod : new ArrayList<>(running.values())) {
            running.remove(pod.spec().key());
            if (removeRules && pod.state() != PodCapture.State.FAILED) {
                try {
                    rules.apply(settings.rules()).remove(pod.spec(), settings);
                } catch (RuntimeException e) {
                    log.error("pod {}: cannot remove redirect rules: {}", pod.spec().key(), e.getMessage());
                }
            }
            draining.add(pod);
            done.add(pod.drain(settings.drainTimeout(), timer).whenComplete((v, t) -> draining.remove(pod)));
        }
        publish();
        return CompletableFuture.allOf(done.toArray(CompletableFuture[]::new));
    }

    private void publish() {
        List<PodCapture> all = new ArrayList<>(running.values());
        for (PodCapture p : draining) {
            if (!all.contains(p)) {
                all.add(p);
            }
        }
        view = List.copyOf(all);
    }

    /** The pods captured now (failed ones included) and those still draining; safe from any thread. */
    public List<PodCapture> pods() {
        return view;
    }
}
