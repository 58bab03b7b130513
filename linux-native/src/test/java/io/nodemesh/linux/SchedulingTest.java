package io.nodemesh.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Nice values of threads, read back from /proc as the kernel keeps them. */
class SchedulingTest {

    @Test
    void theNiceFieldIsFoundAfterACommandNameWithSpacesAndParentheses() {
        String line = "4242 (a (weird) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 7 12 0 123 456 789";
        assertThat(Scheduling.parseNice(line)).isEqualTo(7);
        assertThatThrownBy(() -> Scheduling.parseNice("no parentheses")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Scheduling.parseNice("1 (x) S 1 2")).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aThreadLowersItselfAndTheThreadsItStartsInheritItButNotItsCreator() throws Exception {
        assumeTrue(Files.exists(Path.of("/proc/thread-self/stat")), "needs Linux /proc/thread-self");
        int mine = Scheduling.currentThreadNice();
        AtomicReference<Object> seen = new AtomicReference<>();
        Thread t = Thread.ofPlatform().start(() -> {
            try {
                int before = Scheduling.currentThreadNice();
                int after = Scheduling.lowerCurrentThread(3);
                AtomicReference<Integer> child = new AtomicReference<>();
                Thread c = Thread.ofPlatform().start(() -> {
                    try {
                        child.set(Scheduling.currentThreadNice());
                    } catch (Exception e) {
                        child.set(Integer.MIN_VALUE);
                    }
                });
                c.join();
                int capped = Scheduling.lowerCurrentThread(2 * Scheduling.MAX_NICE + 1);
                seen.set(List.of(before, after, child.get(), capped, Scheduling.currentThreadNice()));
            } catch (Exception e) {
                seen.set(e);
            }
        });
        t.join();

        assertThat(seen.get()).isInstanceOf(List.class);
        List<Object> r = List.copyOf((List<?>) seen.get());
        int expected = Math.min(Scheduling.MAX_NICE, mine + 3);
        // before, after lowering by 3, its child's, after lowering by more than the range, read back
        assertThat(r).containsExactly((Object) mine, expected, expected, Scheduling.MAX_NICE, Scheduling.MAX_NICE);
        assertThat(Scheduling.currentThreadNice()).isEqualTo(mine);
    }

    @Test
    void aPriorityIsOnlyLoweredHere() {
        assertThatThrownBy(() -> Scheduling.lowerCurrentThread(-1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("only be lowered");
        assertThatThrownBy(() -> Scheduling.lowerProcess(-5)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aProcessLowersAllItsThreadsTheJvmsOwnIncluded() throws Exception {
        assumeTrue(Files.exists(Path.of("/proc/self/task")), "needs Linux /proc");
        int mine = Scheduling.currentThreadNice();
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Child.class.getName())
                .redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line = out.readLine();
            assertThat(line).startsWith("lowered ");
            assertThat(Integer.parseInt(line.substring("lowered ".length()))).isGreaterThan(5); // main, GC, compilers...
            List<Integer> nices = new ArrayList<>();
            try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(child.pid()), "task"))) {
                for (Path task : tasks) {
                    nices.add(Scheduling.niceOf(task.resolve("stat")));
                }
            }
            assertThat(nices).hasSizeGreaterThan(5).allMatch(n -> n == Math.min(Scheduling.MAX_NICE, mine + 4));
        } finally {
            child.destroy();
            child.waitFor(10, TimeUnit.SECONDS);
        }
    }

    /** Lowers its whole process by 4, says how many threads, starts one more thread, and waits to be killed. */
    public static final class Child {
        public static void main(String[] args) throws Exception {
            int lowered = Scheduling.lowerProcess(4);
            Thread later = Thread.ofPlatform().daemon().start(() -> {
                try {
                    Thread.sleep(60_000);
                } catch (InterruptedException ignored) {
                    // exit
                }
            });
            System.out.println("lowered " + lowered);
            System.out.flush();
            later.join(60_000);
        }
    }
}
