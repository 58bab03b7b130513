package io.nodemesh.proxy.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.transport.TransportKind;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The standalone file as a workload source, without a proxy: what it hands over, and what it keeps. */
class StandaloneFileSourceTest {

    private static final String ONE_POD = """
            proxy:
              transport: nio
              workers: 3
              idleTimeout: 10m
            pods:
              - { name: a, namespace: demo, ips: [10.1.0.2], netns: /var/run/netns/a }
            """;

    @TempDir
    Path dir;

    private final ScheduledExecutorService control = Executors.newSingleThreadScheduledExecutor();
    private final List<MeshSnapshot> applied = new CopyOnWriteArrayList<>();

    @AfterEach
    void stop() {
        control.shutdownNow();
    }

    private boolean refreshOnControl(WorkloadSource source) throws Exception {
        return control.submit(source::refresh).get(5, TimeUnit.SECONDS);
    }

    @Test
    void startsFromTheFileAndCarriesItsBootSettings() throws Exception {
        Path file = Files.writeString(dir.resolve("mesh.yaml"), ONE_POD);
        StandaloneFileSource source = new StandaloneFileSource(file, Duration.ofHours(1));

        MeshSnapshot first = source.start();

        assertThat(first.pods()).containsOnlyKeys("demo/a");
        assertThat(first.proxy().idleTimeout()).isEqualTo(Duration.ofMinutes(10));
        assertThat(source.boot(BootSettings.defaults()))
                .isEqualTo(BootSettings.defaults().withTransport(TransportKind.NIO).withWorkers(3));
        assertThat(source.describe()).isEqualTo(file.toString());
        assertThat(source.status().lastError()).isNull();
        assertThat(source.status().loadedAtMillis()).isPositive();
    }

    @Test
    void aChangeIsHandedOverAndABadOneIsRejectedWithTheLastGoodKept() throws Exception {
        Path file = Files.writeString(dir.resolve("mesh.yaml"), ONE_POD);
        StandaloneFileSource source = new StandaloneFileSource(file, Duration.ofHours(1));
        source.start();
        source.follow(control, applied::add);
        assertThat(refreshOnControl(source)).as("nothing changed yet").isFalse();

        Files.writeString(file, ONE_POD + "  - { name: b, namespace: demo, ips: [10.1.0.3], netns: /var/run/netns/b }\n");
        assertThat(refreshOnControl(source)).isTrue();
        assertThat(applied).hasSize(1);
        assertThat(applied.get(0).pods()).containsOnlyKeys("demo/a", "demo/b");

        Files.writeString(file, ONE_POD + "  - { name: c, ips: [10.1.0.300], netns: /x }\n");
        assertThat(refreshOnControl(source)).isTrue();
        assertThat(applied).as("a rejected change is not applied").hasSize(1);
        assertThat(source.status().lastError()).isEqualTo(file + ":7:22: pods[1].ips[0]: '10.1.0.300' is not an IP address");

        assertThat(refreshOnControl(source)).as("the same bad content is reported once").isFalse();
        source.close();
    }

    @Test
    void aMissingFileAtStartIsAConfigErrorNamingIt() {
        Path file = dir.resolve("absent.yaml");
        StandaloneFileSource source = new StandaloneFileSource(file, Duration.ofHours(1));

        assertThatThrownBy(source::start).isInstanceOf(ConfigException.class).hasMessage(file + ": no such file");
    }

    @Test
    void followingPollsOnTheControlThread() throws Exception {
        Path file = Files.writeString(dir.resolve("mesh.yaml"), ONE_POD);
        StandaloneFileSource source = new StandaloneFileSource(file, Duration.ofMillis(50));
        source.start();
        List<String> threads = new CopyOnWriteArrayList<>();
        source.follow(control, s -> {
            threads.add(Thread.currentThread().getName());
            applied.add(s);
        });
        String controlThread = control.submit(() -> Thread.currentThread().getName()).get();

        Files.writeString(file, ONE_POD.replace("10m", "20m"));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (applied.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }

        assertThat(applied).hasSize(1);
        assertThat(applied.get(0).proxy().idleTimeout()).isEqualTo(Duration.ofMinutes(20));
        assertThat(threads).containsExactly(controlThread);
        source.close();
    }
}
