package io.nodemesh.bench.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The niceness of this process's scheduling autogroup (sched(7)). With kernel autogroups on, a
 * process's own nice value only ranks it within its session, so {@code --nice} also sets the
 * session's, for the run only: {@link #close()} puts the previous value back.
 */
final class SessionPriority implements AutoCloseable {

    private static final Path AUTOGROUP = Path.of("/proc/self/autogroup");
    private static final Path ENABLED = Path.of("/proc/sys/kernel/sched_autogroup_enabled");

    private final int previous;

    private SessionPriority(int previous) {
        this.previous = previous;
    }

    /** Sets the session's niceness to {@code nice}, or returns null (nothing to undo) when autogroups are off. */
    static SessionPriority set(int nice) throws IOException {
        if (!Files.exists(AUTOGROUP) || !Files.readString(ENABLED).strip().equals("1")) {
            return null;
        }
        int previous = parse(Files.readString(AUTOGROUP));
        Files.writeString(AUTOGROUP, Integer.toString(nice));
        return new SessionPriority(previous);
    }

    /** The nice value of a {@code /proc/<pid>/autogroup} line such as {@code /autogroup-9 nice 0}. */
    static int parse(String line) {
        String[] f = line.strip().split("\\s+");
        if (f.length != 3 || !f[1].equals("nice")) {
            throw new IllegalArgumentException("unexpected /proc/self/autogroup content: " + line.strip());
        }
        return Integer.parseInt(f[2]);
    }

    @Override
    public void close() throws IOException {
        Files.writeString(AUTOGROUP, Integer.toString(previous));
    }
}
