package io.nodemesh.bench.rules;

import io.nodemesh.rules.IpFamily;
import io.nodemesh.rules.IptablesRenderer;
import io.nodemesh.rules.NftRenderer;
import io.nodemesh.rules.RedirectPlan;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Cost of turning one pod's {@link RedirectPlan} into {@code iptables-restore} and {@code nft}
 * text: paid on every pod event (enrol, release, check), so with hundreds of pods per node it
 * should stay in the microseconds.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "-XX:+UseCompactObjectHeaders"})
public class RuleRenderingBenchmark {

    /** How many exempt ports and CIDRs the plan carries (a bare pod vs a heavily configured one). */
    @Param({"0", "16"})
    public int exemptions;

    private RedirectPlan plan;

    @Setup
    public void setUp() {
        plan = build();
    }

    private RedirectPlan build() {
        RedirectPlan.Builder b = RedirectPlan.builder().podLabel("bench/client").mark("0x539/0xfff");
        for (int i = 0; i < exemptions; i++) {
            b.exemptPort(20_000 + i).exemptInboundPort(21_000 + i)
                    .exemptCidr("10." + i + ".0.0/16").exemptCidr("fd77:" + Integer.toHexString(i + 1) + "::/64");
        }
        return b.build();
    }

    /** Validating and building the plan from its settings. */
    @Benchmark
    public RedirectPlan buildPlan() {
        return build();
    }

    /** The IPv4 restore input. */
    @Benchmark
    public String renderIptablesIpv4() {
        return IptablesRenderer.render(plan, IpFamily.IPV4);
    }

    /** Both families, as an apply does. */
    @Benchmark
    public int renderIptablesBothFamilies() {
        return IptablesRenderer.render(plan, IpFamily.IPV4).length() + IptablesRenderer.render(plan, IpFamily.IPV6).length();
    }

    /** The nft ruleset (one inet table for both families). */
    @Benchmark
    public String renderNft() {
        return NftRenderer.render(plan);
    }
}
