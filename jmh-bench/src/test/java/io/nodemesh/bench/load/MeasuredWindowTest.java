package io.nodemesh.bench.load;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The window's two lines: after the warm-up and after the measured time, and none for a run that ended early. */
class MeasuredWindowTest {

    @Test
    void announcesTheOpeningAfterTheWarmUpAndTheClosingAfterTheDuration() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stream = new PrintStream(err, true, StandardCharsets.UTF_8);
        long start = System.nanoTime();
        try (MeasuredWindow window = MeasuredWindow.announce(Duration.ofMillis(150), Duration.ofMillis(150), stream)) {
            while (!err.toString(StandardCharsets.UTF_8).contains(MeasuredWindow.OPENS)) {
                Thread.sleep(5);
            }
            long opened = System.nanoTime() - start;
            assertThat(opened).isGreaterThanOrEqualTo(Duration.ofMillis(150).toNanos());
            assertThat(err.toString(StandardCharsets.UTF_8)).doesNotContain(MeasuredWindow.CLOSES);
            Thread.sleep(200); // past the window: closing waits for the CLOSES line
        }
        assertThat(err.toString(StandardCharsets.UTF_8).lines())
                .containsExactly(MeasuredWindow.OPENS, MeasuredWindow.CLOSES);
    }

    @Test
    void aRunThatEndsBeforeItsWindowClosesAnnouncesNoClosing() throws Exception {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream stream = new PrintStream(err, true, StandardCharsets.UTF_8);
        try (MeasuredWindow window = MeasuredWindow.announce(Duration.ZERO, Duration.ofSeconds(30), stream)) {
            while (!err.toString(StandardCharsets.UTF_8).contains(MeasuredWindow.OPENS)) {
                Thread.sleep(5);
            }
        }
        Thread.sleep(50);
        assertThat(err.toString(StandardCharsets.UTF_8).lines()).containsExactly(MeasuredWindow.OPENS);
    }
}
