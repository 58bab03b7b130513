package io.nodemesh.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/** Tests that need root: skipped with the reason elsewhere, failed where they must run (NODEMESH_REQUIRE_NETNS=1). */
final class RootOnly {

    private RootOnly() {
    }

    /** Skips the test unless it runs as root; {@code why} says what needs root. */
    static void require(String why) throws IOException {
        boolean root = Files.readString(Path.of("/proc/self/status")).lines()
                .anyMatch(l -> l.startsWith("Uid:") && l.split("\\s+")[2].equals("0"));
        if (!root && "1".equals(System.getenv("NODEMESH_REQUIRE_NETNS"))) {
            throw new AssertionError(why + ", and these tests must run here (NODEMESH_REQUIRE_NETNS=1) but do not run as root");
        }
        Assumptions.assumeTrue(root, "skipped: " + why);
    }
}
