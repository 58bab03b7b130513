package io.nodemesh.bench.growth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.bench.harness.ProxyJvmFlags;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GrowthCommandTest {

    @Test
    void parsesAnExtraVariant() {
        GrowthOptions.Variant v = GrowthCommand.parseVariant("lean= MALLOC_ARENA_MAX=1 -Xmx24m  -XX:TieredStopAtLevel=1");
        assertThat(v.name()).isEqualTo("lean");
        assertThat(v.env()).isEqualTo(Map.of("MALLOC_ARENA_MAX", "1"));
        List<String> expected = new ArrayList<>(ProxyJvmFlags.BASELINE);
        expected.addAll(List.of("-Xmx24m", "-XX:TieredStopAtLevel=1"));
        assertThat(v.flags()).isEqualTo(expected);
        assertThat(v.describe()).startsWith("MALLOC_ARENA_MAX=1 java --enable-native-access=ALL-UNNAMED");
    }

    @Test
    void refusesBadVariants() {
        assertThatThrownBy(() -> GrowthCommand.parseVariant("-Xmx24m")).hasMessageContaining("NAME=ARGS");
        assertThatThrownBy(() -> GrowthCommand.parseVariant("tuned=-Xmx24m")).hasMessageContaining("built-in");
        assertThatThrownBy(() -> GrowthCommand.parseVariant("x=Xmx24m")).hasMessageContaining("neither a JVM flag");
    }

    @Test
    void optionsRefuseUnorderedCounts() {
        assertThatThrownBy(() -> new GrowthOptions(List.of(0, 50, 50), java.time.Duration.ofSeconds(1), java.time.Duration.ZERO,
                1000, 10000, List.of(GrowthCommand.VARIANTS.get("tuned")), Path.of("o"), Path.of("j"), 1, false, "c"))
                .hasMessageContaining("strictly ascending");
    }

    /**
     * bin/nodemesh must launch the daemons exactly as the benchmarks measure them, and the build runs every test JVM
     * with the project's flags: all three read jvm-flags.properties.
     */
    @Test
    void binLibShTheBenchmarksAndTheBuildReadOneFileOfFlags() throws Exception {
        Path lib = repoRoot().resolve("bin/lib.sh");
        Process bash = new ProcessBuilder("bash", "-c", ". \"$0\"; echo \"${NODEMESH_JVM_FLAGS[*]}\"; "
                + "echo \"${NODEMESH_PROXY_JVM_FLAGS_DEFAULT[*]}\"; echo \"${NODEMESH_AGENT_JVM_FLAGS_ONLY[*]}\"; "
                + "echo \"$NODEMESH_PROXY_MALLOC_ARENA_MAX\"", lib.toString()).redirectErrorStream(true).start();
        List<String> lines = new String(bash.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)
                .lines().toList();
        assertThat(bash.waitFor()).as("sourcing " + lib + ": " + lines).isZero();
        assertThat(lines).hasSize(4);
        assertThat(List.of(lines.get(0).split(" "))).isEqualTo(ProxyJvmFlags.BASELINE);
        assertThat(List.of(lines.get(1).split(" "))).isEqualTo(ProxyJvmFlags.TUNED_ONLY);
        assertThat(List.of(lines.get(2).split(" "))).isEqualTo(ProxyJvmFlags.AGENT_ONLY);
        assertThat(Map.of("MALLOC_ARENA_MAX", lines.get(3))).isEqualTo(ProxyJvmFlags.TUNED_ENV);
        assertThat(ProxyJvmFlags.TUNED_ONLY).contains("-XX:+UseSerialGC", "-Xmx128m");
        assertThat(java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())
                .as("this test JVM's flags (surefire's argLine)").containsAll(ProxyJvmFlags.BASELINE);
    }

    private static Path repoRoot() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isDirectory(p.resolve("bin"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no bin/ directory above " + Path.of("").toAbsolutePath());
        }
        return p;
    }
}
