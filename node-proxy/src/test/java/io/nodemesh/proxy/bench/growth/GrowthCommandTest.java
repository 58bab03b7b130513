package io.nodemesh.proxy.bench.growth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.bench.ProxyJvmFlags;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
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

    /** bin/nodemesh proxy must launch the proxy exactly as the benchmark measured it. */
    @Test
    void binLibShHasTheTunedFlags() throws IOException {
        Path lib = repoRoot().resolve("bin/lib.sh");
        String text = Files.readString(lib);
        Matcher m = Pattern.compile("NODEMESH_PROXY_JVM_FLAGS_DEFAULT=\\(([^)]*)\\)", Pattern.DOTALL).matcher(text);
        assertThat(m.find()).as("NODEMESH_PROXY_JVM_FLAGS_DEFAULT in " + lib).isTrue();
        assertThat(List.of(m.group(1).trim().split("\\s+"))).isEqualTo(ProxyJvmFlags.TUNED_ONLY);
        Matcher arenas = Pattern.compile("NODEMESH_PROXY_MALLOC_ARENA_MAX=(\\d+)").matcher(text);
        assertThat(arenas.find()).isTrue();
        assertThat(Map.of("MALLOC_ARENA_MAX", arenas.group(1))).isEqualTo(ProxyJvmFlags.TUNED_ENV);
        Matcher agent = Pattern.compile("NODEMESH_AGENT_JVM_FLAGS_ONLY=\\(([^)]*)\\)").matcher(text);
        assertThat(agent.find()).as("NODEMESH_AGENT_JVM_FLAGS_ONLY in " + lib).isTrue();
        assertThat(List.of(agent.group(1).trim().split("\\s+"))).isEqualTo(ProxyJvmFlags.AGENT_ONLY);
        Matcher base = Pattern.compile("NODEMESH_JVM_FLAGS=\\(([^)]*)\\)").matcher(text);
        assertThat(base.find()).isTrue();
        assertThat(List.of(base.group(1).trim().split("\\s+"))).isEqualTo(ProxyJvmFlags.BASELINE);
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
