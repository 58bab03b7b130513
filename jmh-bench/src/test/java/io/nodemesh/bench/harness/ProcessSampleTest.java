package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class ProcessSampleTest {

    @Test
    void addsUtimeAndStimeOfABusyProcess() {
        // A shell spinning for 1.5 s: utime 144, stime 0 (fields 14 and 15).
        assertThat(ProcessSample.cpuTicks(Captured.read("proc-stat-busy.txt"))).isEqualTo(144);
    }

    @Test
    void countsFieldsFromTheLastParenthesisWhenTheCommandNameHasSpacesAndParentheses() {
        // comm is "x) (y z": splitting on spaces from the start would shift every field.
        String stat = Captured.read("proc-stat-odd-comm.txt");
        assertThat(stat).contains("(x) (y z)");

        assertThat(ProcessSample.cpuTicks(stat)).isZero();
    }

    @Test
    void readsRssAndPeakRssFromStatus() {
        String status = Captured.read("proc-status-busy.txt");

        assertThat(ProcessSample.kb(status, "VmRSS")).isEqualTo(1_616);
        assertThat(ProcessSample.kb(status, "VmHWM")).isEqualTo(1_616);
        assertThatThrownBy(() -> ProcessSample.kb(status, "VmNope")).hasMessageContaining("VmNope");
    }

    @Test
    void samplesALiveProcess() throws Exception {
        ProcessSample self = ProcessSample.of(ProcessHandle.current().pid());

        // A JVM that has run this far has used CPU and holds memory; its peak is at least its current RSS.
        assertThat(self.cpuTicks()).isPositive();
        assertThat(self.rssKb()).isPositive();
        assertThat(self.hwmKb()).isGreaterThanOrEqualTo(self.rssKb());
    }

    @Test
    void countsOnlyTheThreadsWithThePrefix() throws Exception {
        assumeTrue(Files.isDirectory(Path.of("/proc/self/task")), "needs Linux /proc/<pid>/task");
        long pid = ProcessHandle.current().pid();
        var before = ProcessSample.threadCpuNanos(pid, "nm-ticks-");
        // A thread that burns 200 ms of its own CPU (bounded by 10 s of wall time), then waits to be read.
        java.util.concurrent.CountDownLatch burnt = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch read = new java.util.concurrent.CountDownLatch(1);
        Thread spinner = new Thread(() -> {
            var mx = java.lang.management.ManagementFactory.getThreadMXBean();
            long deadline = System.nanoTime() + 10_000_000_000L;
            long x = 0;
            while (mx.getCurrentThreadCpuTime() < 200_000_000L && System.nanoTime() < deadline) {
                x += System.nanoTime() & 1;
            }
            burnt.countDown();
            try {
                read.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (x == 42) {
                System.out.print(""); // keeps the loop from being optimised away
            }
        }, "nm-ticks-spinner");
        spinner.start();
        try {
            burnt.await();
            var after = ProcessSample.threadCpuNanos(pid, "nm-ticks-");
            assertThat(after).hasSize(1).doesNotContainKey(pid); // the spinner, not the main thread
            long nanos = ProcessSample.cpuNanosBetween(before, after);
            // The JVM reads the same kernel count for a thread (CLOCK_THREAD_CPUTIME_ID); the spinner is parked now.
            long jvm = java.lang.management.ManagementFactory.getThreadMXBean().getThreadCpuTime(spinner.threadId());
            assertThat(nanos).isPositive().isCloseTo(jvm, org.assertj.core.data.Offset.offset(20_000_000L));
            assertThat(ProcessSample.threadCpuNanos(pid, "no-such-thread-")).isEmpty();
            long ticksPerSecond = ProcessSample.clockTicksPerSecond();
            assertThat(ProcessSample.of(pid).cpuTicks() * (1_000_000_000L / ticksPerSecond))
                    .isGreaterThanOrEqualTo(nanos - 1_000_000_000L / ticksPerSecond);
        } finally {
            read.countDown();
            spinner.join();
        }
    }

    @Test
    void rejectsTextThatIsNotAStatLine() {
        assertThatThrownBy(() -> ProcessSample.cpuTicks("VmRSS: 12 kB")).hasMessageContaining("/proc/<pid>/stat");
    }

    @Test
    void cpuBetweenTwoReadingsCountsNewThreadsFromZeroAndEndedOnesNotAtAll() {
        var before = java.util.Map.of(1L, 100L, 2L, 500L);
        var after = java.util.Map.of(1L, 150L, 3L, 70L); // 2 ended, 3 started
        assertThat(ProcessSample.cpuNanosBetween(before, after)).isEqualTo(50L + 70L);
    }

    @Test
    void schedstatLinesAreReadAndOthersRefused() {
        assertThat(ProcessSample.schedstatNanos("123456789 4242 17\n")).isEqualTo(123_456_789L);
        assertThatThrownBy(() -> ProcessSample.schedstatNanos("1 2"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("schedstat");
    }
}
