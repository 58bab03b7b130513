package io.nodemesh.proxy.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
    void rejectsTextThatIsNotAStatLine() {
        assertThatThrownBy(() -> ProcessSample.cpuTicks("VmRSS: 12 kB")).hasMessageContaining("/proc/<pid>/stat");
    }
}
