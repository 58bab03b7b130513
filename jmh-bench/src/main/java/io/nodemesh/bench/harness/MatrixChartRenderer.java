package io.nodemesh.bench.harness;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/** Draws a matrix run's charts; found with {@link java.util.ServiceLoader} (jmh-bench provides the XChart one). */
public interface MatrixChartRenderer {

    /** Writes chart images for {@code report} into {@code directory} and returns their paths. */
    List<Path> render(MatrixReport report, Path directory) throws IOException;
}
