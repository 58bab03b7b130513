package io.nodemesh.bench.rules;

import io.nodemesh.rules.RedirectPlan;
import io.nodemesh.rules.RuleEngine;
import io.nodemesh.rules.RulesException;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;

/**
 * What capturing one pod costs the proxy in rules, wall time on the calling thread, in a fresh network namespace (a
 * pod handed over by the CNI plugin) and in one that already has the same rules (a proxy restarted on a node whose
 * pods it captured before), per way of installing them, interleaved round by round so that every variant shares the
 * machine's noise:
 * <ul>
 * <li>{@code iptables-before} / {@code nft-before}: what the proxy did until issue 23: check, remove its own backend's
 *     rules, remove the other backend's, apply behind the guard (every step one or two processes: 10 for a fresh namespace on iptables, 9 on nft);
 * <li>{@code iptables}: {@link RuleEngine#install} on iptables (check, then restore: 4 processes when fresh, 2 when
 *     in sync);
 * <li>{@code nft}: {@link RuleEngine#install} on nft (fresh: one netlink dump, one lookup and one transaction, no
 *     process; rules already there: those and one {@code nft list table} to see they are in sync).
 * </ul>
 * Run as root: {@code java --enable-native-access=ALL-UNNAMED -cp jmh-bench/target/benchmarks.jar
 * io.nodemesh.bench.rules.RuleInstallTiming [ROUNDS [WAY,…]]}.
 */
public final class RuleInstallTiming {

    private RuleInstallTiming() {
    }

    public static void main(String[] args) throws Exception {
        int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        RedirectPlan plan = RedirectPlan.builder().podLabel("bench/pod-0").build();
        Map<String, BiConsumer<RedirectPlan, Path>> ways = new LinkedHashMap<>();
        ways.put("iptables-before", (p, ns) -> before(RuleEngine.iptables(), RuleEngine.nft(), p, ns));
        ways.put("nft-before", (p, ns) -> before(RuleEngine.nft(), RuleEngine.iptables(), p, ns));
        ways.put("iptables", (p, ns) -> RuleEngine.iptables().install(p, ns));
        ways.put("nft", (p, ns) -> RuleEngine.nft().install(p, ns));
        if (args.length > 1) {
            ways.keySet().retainAll(List.of(args[1].split(",")));
        }
        Map<String, List<Long>> fresh = new LinkedHashMap<>();
        Map<String, List<Long>> again = new LinkedHashMap<>();
        String prefix = "nmrt" + ProcessHandle.current().pid() + "-";
        // Every namespace is made before and deleted after the measurement: a namespace's teardown runs in the
        // kernel's background and slows the RCU grace periods that deleting and adding base chains wait for.
        List<String> names = new ArrayList<>();
        for (int i = 0; i < (rounds + 3) * ways.size(); i++) {
            names.add(prefix + i);
            ip("netns", "add", prefix + i);
            ip("-n", prefix + i, "link", "set", "lo", "up"); // as a pod's: the runtime's loopback plugin does this
        }
        try {
            int next = 0;
            for (int warm = 0; warm < 3; warm++) { // class loading and the first JIT out of the way
                for (var way : ways.entrySet()) {
                    measure(names.get(next++), way.getValue(), plan, new ArrayList<>(), new ArrayList<>());
                }
            }
            Thread.sleep(1000);
            for (int round = 0; round < rounds; round++) {
                for (var way : ways.entrySet()) {
                    measure(names.get(next++), way.getValue(), plan,
                            fresh.computeIfAbsent(way.getKey(), k -> new ArrayList<>()),
                            again.computeIfAbsent(way.getKey(), k -> new ArrayList<>()));
                }
            }
        } finally {
            for (String name : names) {
                ip("netns", "del", name);
            }
        }
        System.out.printf("%-16s %-28s %-28s%n", "way", "fresh namespace (ms)", "rules already there (ms)");
        for (String way : ways.keySet()) {
            System.out.printf("%-16s %-28s %-28s%n", way, summary(fresh.get(way)), summary(again.get(way)));
        }
    }

    private static void measure(String name, BiConsumer<RedirectPlan, Path> way, RedirectPlan plan, List<Long> fresh,
                                List<Long> again) {
        Path ns = Path.of("/var/run/netns", name);
        long t0 = System.nanoTime();
        way.accept(plan, ns);
        long t1 = System.nanoTime();
        way.accept(plan, ns);
        long t2 = System.nanoTime();
        fresh.add(t1 - t0);
        again.add(t2 - t1);
    }

    /** The proxy's install until issue 23 (RedirectRules): check, remove both backends' rules, guarded apply. */
    private static void before(RuleEngine engine, RuleEngine other, RedirectPlan plan, Path ns) {
        if (engine.check(plan, ns).inSync()) {
            return;
        }
        engine.remove(ns);
        try {
            other.remove(ns);
        } catch (RulesException ignored) {
            // as RedirectRules did
        }
        engine.apply(plan, ns);
    }

    private static String summary(List<Long> nanos) {
        long[] sorted = nanos.stream().mapToLong(Long::longValue).sorted().toArray();
        return String.format("min %.2f  median %.2f  p90 %.2f", sorted[0] / 1e6, sorted[sorted.length / 2] / 1e6,
                sorted[(int) (sorted.length * 0.9)] / 1e6);
    }

    private static void ip(String... args) throws IOException, InterruptedException {
        List<String> command = new ArrayList<>(List.of("ip"));
        command.addAll(Arrays.asList(args));
        Process p = new ProcessBuilder(command).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IOException(String.join(" ", command) + " failed");
        }
    }
}
