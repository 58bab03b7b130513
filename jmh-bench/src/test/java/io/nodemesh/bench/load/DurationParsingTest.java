package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The load tools' command-line duration forms (addresses: node-proxy's {@code HostPortTest}). */
class DurationParsingTest {

    @Test
    void parsesDurations() {
        assertThat(LoadCli.parseDuration("10s")).isEqualTo(Duration.ofSeconds(10));
        assertThat(LoadCli.parseDuration("500ms")).isEqualTo(Duration.ofMillis(500));
        assertThat(LoadCli.parseDuration("100us")).isEqualTo(Duration.ofNanos(100_000));
        assertThat(LoadCli.parseDuration("2m")).isEqualTo(Duration.ofMinutes(2));
        assertThat(LoadCli.parseDuration("1.5")).isEqualTo(Duration.ofMillis(1500));
        assertThatThrownBy(() -> LoadCli.parseDuration("soon")).hasMessageContaining("'soon'");
    }
}
