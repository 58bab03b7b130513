package io.nodemesh.proxy.discovery;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Consumer;

/**
 * Where the proxy learns what the mesh looks like: its settings and the pods (later services and policies), as
 * immutable {@link MeshSnapshot}s. The standalone file is one implementation ({@link StandaloneFileSource}); the
 * Kubernetes API (kubernetes-source) is the other. The proxy starts on {@link #start()}'s snapshot and then applies
 * each one the source hands it; a source never mutates a snapshot, and a change it cannot accept keeps the last good
 * one in force ({@link #status()} says why).
 */
public interface WorkloadSource extends AutoCloseable {

    /** What the source reads, for logs and the admin API (the standalone file's path, say). */
    String describe();

    /**
     * The first complete view; blocks until there is one (a file read, the first list of every kind).
     *
     * @throws ConfigException if there is none to be had, with a message naming what and where
     */
    MeshSnapshot start() throws ConfigException;

    /**
     * Settings this source carries for the proxy's start (the standalone file's {@code proxy:} section), else
     * {@code defaults}. Called after {@link #start()}.
     */
    default BootSettings boot(BootSettings defaults) {
        return defaults;
    }

    /**
     * Follows changes from now on: every new snapshot goes to {@code apply}, always on {@code control} (the proxy's
     * one control thread), which the source may also use for its own polling.
     */
    void follow(ScheduledExecutorService control, Consumer<MeshSnapshot> apply);

    /**
     * Looks for a change now instead of at the next poll or event, and hands it to {@code apply} as {@link #follow}
     * would; call on the control thread. Returns whether there was a change (applied or rejected).
     */
    boolean refresh();

    /** When the view in force was taken and why the latest change was rejected, if it was. */
    SourceStatus status();

    /** Stops following; the snapshots already handed out stay valid. */
    @Override
    void close();
}
