package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import org.junit.jupiter.api.Test;

/**
 * The built nodemesh.jar is what a node runs (the DaemonSet image will hold it): it carries the daemons and the CLI,
 * and no test or benchmark code. Runs after {@code package} (failsafe).
 */
class NodemeshJarIT {

    private static final Path JAR = Path.of("target", "nodemesh.jar");

    /** Prefixes of classes that belong to tests and benchmarks, never to the product. */
    private static final List<String> FORBIDDEN = List.of(
            "org/junit/", "org/opentest4j/", "org/apiguardian/", "org/assertj/",
            "io/nodemesh/testing/", "io/nodemesh/bench/",
            "org/openjdk/jmh/", "org/HdrHistogram/", "org/knowm/xchart/");

    @Test
    void holdsTheDaemonsAndTheCliAndNoTestOrBenchmarkClasses() throws IOException {
        assertThat(JAR).as("built by package").isRegularFile();
        List<String> forbidden = new ArrayList<>();
        List<String> names = new ArrayList<>();
        try (ZipFile zip = new ZipFile(JAR.toFile())) {
            zip.stream().map(ZipEntry::getName).forEach(name -> {
                names.add(name);
                if (FORBIDDEN.stream().anyMatch(name::startsWith)) {
                    forbidden.add(name);
                }
            });
        }
        assertThat(forbidden).as("test or benchmark classes in " + JAR).isEmpty();
        assertThat(names).contains(
                "io/nodemesh/cli/NodemeshCommand.class",
                "io/nodemesh/proxy/NodeProxy.class",
                "io/nodemesh/telemetry/agent/TelemetryAgent.class",
                "io/nodemesh/telemetry/v1/ReportBatch.class",
                "io/nodemesh/demo/DemoCommand.class",
                "io/nodemesh/topology/Topology.class");
    }

    @Test
    void runsOnItsOwn() throws Exception {
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        Process p = new ProcessBuilder(java.toString(), "-jar", JAR.toString(), "--version")
                .redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.exitValue()).as(out).isZero();
        assertThat(out).startsWith("nodemesh ").contains("Java 25");
        assertThat(Files.size(JAR)).as("bytes").isPositive();
    }
}
