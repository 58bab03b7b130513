package io.nodemesh.bench.load;

import java.io.File;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Where the load tools' classes are, to start them as processes of their own ({@code java -cp ... LoadServer}). */
public final class LoadTools {

    /** The package prefix of the tools' main classes. */
    public static final String PACKAGE = "io.nodemesh.bench.load.";

    private LoadTools() {
    }

    /**
     * The class path that runs the load tools: this module's jar (benchmarks.jar, which holds their dependencies
     * too) when they run from it, else this JVM's whole class path (a build tree).
     */
    public static String classpath() {
        try {
            Path self = Path.of(LoadTools.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(self)) {
                return self.toString();
            }
        } catch (URISyntaxException | SecurityException e) {
            // fall through: the JVM's class path names us anyway
        }
        return String.join(File.pathSeparator, System.getProperty("java.class.path"));
    }
}
