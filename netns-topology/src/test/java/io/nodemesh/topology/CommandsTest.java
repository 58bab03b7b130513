package io.nodemesh.topology;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Commands: stderr lines reach a listener while the command still runs, and the result still holds all output. */
class CommandsTest {

    @Test
    void stderrLinesReachTheListenerWhileTheCommandRuns() throws Exception {
        List<String> seen = new CopyOnWriteArrayList<>();
        CountDownLatch first = new CountDownLatch(1);
        CompletableFuture<ExecResult> run = CompletableFuture.supplyAsync(() -> Commands.run(
                List.of("sh", "-c", "echo out; echo one >&2; sleep 3; echo two >&2"), line -> {
                    seen.add(line);
                    first.countDown();
                }));

        assertThat(first.await(2, TimeUnit.SECONDS)).isTrue();
        assertThat(run).isNotDone(); // the command is still sleeping: the line came as it was written

        ExecResult r = run.get(10, TimeUnit.SECONDS);
        assertThat(r.exitCode()).isZero();
        assertThat(seen).containsExactly("one", "two");
        assertThat(r.stderr()).isEqualTo("one\ntwo\n");
        assertThat(r.stdout()).isEqualTo("out\n");
    }
}
