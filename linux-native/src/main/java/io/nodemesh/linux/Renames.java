package io.nodemesh.linux;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * Swapping two paths in one step, {@code renameat2(RENAME_EXCHANGE)}, which {@link java.nio.file.Files#move} cannot
 * do: a reader sees the one or the other at each name, never neither (the CNI installer replaces the plugin's directory
 * this way while the runtime may be starting it).
 */
public final class Renames {

    /** {@code errno} of a filesystem (or kernel) that cannot exchange: EINVAL, ENOSYS. */
    public static final int EINVAL = 22;
    public static final int ENOSYS = 38;

    private static final int RENAME_EXCHANGE = 2;

    private Renames() {
    }

    /**
     * Exchanges {@code a} and {@code b} atomically; both must exist, on one filesystem (either may be a directory).
     *
     * @throws NativeException naming both paths and the errno ({@link #EINVAL} where the filesystem cannot exchange)
     */
    public static void exchange(Path a, Path b) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(Libc.CALL_STATE);
            int rc = (int) Libc.syscall(state, Libc.SYS_RENAMEAT2, Libc.AT_FDCWD,
                    arena.allocateFrom(a.toString()).address(), Libc.AT_FDCWD, arena.allocateFrom(b.toString()).address(),
                    RENAME_EXCHANGE, 0);
            if (rc != 0) {
                throw Libc.failure("renameat2 RENAME_EXCHANGE " + a + " <-> " + b, state);
            }
        }
    }
}
