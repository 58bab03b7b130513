package io.nodemesh.bench.harness;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SessionPriorityTest {

    @Test
    void readsTheAutogroupNiceness() {
        // Captured from /proc/self/autogroup: "/autogroup-9 nice 0".
        assertThat(SessionPriority.parse(Captured.read("proc-autogroup.txt"))).isZero();
        assertThat(SessionPriority.parse("/autogroup-12 nice -10\n")).isEqualTo(-10);
    }

    @Test
    void rejectsAnythingElse() {
        assertThatThrownBy(() -> SessionPriority.parse("0::/")).hasMessageContaining("/proc/self/autogroup");
    }
}
