package io.nodemesh.bench.growth;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Draws a growth report's charts (found with {@link java.util.ServiceLoader}; the XChart one lives in jmh-bench). */
public interface GrowthChartRenderer {

    /** Writes chart files into {@code directory}; returns them. */
    List<Path> render(GrowthReport report, Path directory) throws IOException;
}
