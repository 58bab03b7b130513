package io.nodemesh.bench.harness;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * Draws a report's charts. Found with {@link java.util.ServiceLoader}: jmh-bench provides the
 * XChart one, so that the proxy's own jar does not carry a charting library.
 */
public interface ChartRenderer {

    /** Writes chart images for {@code report} into {@code directory} and returns their paths. */
    List<Path> render(BenchReport report, Path directory) throws IOException;
}
