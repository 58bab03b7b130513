package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class CoreTimesTest {

    @Test
    void readsOneCoresBusyAndTotalTicks() {
        // cpu1 58526 0 6898 71267 703 0 734 109 0 0  (user nice system idle iowait irq softirq steal guest guest_nice)
        CoreTimes t = CoreTimes.parse(Captured.read("proc-stat-cpus.txt"), 1);

        assertThat(t.busyTicks()).isEqualTo(58_526 + 6_898 + 734 + 109);
        assertThat(t.totalTicks()).isEqualTo(58_526 + 6_898 + 734 + 109 + 71_267 + 703);
    }

    @Test
    void doesNotTakeTheAggregateLineForCoreZero() {
        // The first line is "cpu " (all cores); core 0 is "cpu0".
        CoreTimes t = CoreTimes.parse(Captured.read("proc-stat-cpus.txt"), 0);

        assertThat(t.busyTicks()).isEqualTo(57_420 + 7_552 + 1_812 + 110);
        assertThatThrownBy(() -> CoreTimes.parse(Captured.read("proc-stat-cpus.txt"), 7)).hasMessageContaining("cpu7");
    }

    @Test
    void othersShareIsTheBusyTimeNotSpentByTheSubject() {
        CoreTimes before = new CoreTimes(1_000, 2_000);
        CoreTimes after = new CoreTimes(1_600, 3_000);

        assertThat(after.othersShare(before, 400)).isCloseTo(0.2, within(1e-12));
        assertThat(after.othersShare(before, 600)).isZero();
        // Tick rounding can make the process look busier than the core: never negative.
        assertThat(after.othersShare(before, 650)).isZero();
    }
}
