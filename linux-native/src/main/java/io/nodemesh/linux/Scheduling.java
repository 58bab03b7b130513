package io.nodemesh.linux;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Thread priorities (nice values), which Java's {@code Thread.setPriority} leaves alone on Linux. On Linux a nice value
 * belongs to one thread and a new thread starts with its creator's, so work that must never delay the data path
 * (telemetry) runs at a lower priority than the event loops on the same cores: the scheduler then does not preempt a
 * busy event loop the moment such a thread wakes, and gives it a smaller share when the core is contended.
 */
public final class Scheduling {

    /** The highest nice value (lowest priority) Linux allows. */
    public static final int MAX_NICE = 19;

    private Scheduling() {
    }

    /** The nice value of the calling thread. */
    public static int currentThreadNice() throws IOException {
        return niceOf(Path.of("/proc/thread-self/stat"));
    }

    /**
     * Lowers the calling thread's priority: its nice value goes up by {@code increment}, at most to {@link #MAX_NICE};
     * threads it starts afterwards inherit that. Raising a nice value needs no privilege.
     *
     * @return the thread's nice value afterwards
     */
    public static int lowerCurrentThread(int increment) throws IOException {
        int nice = Math.min(MAX_NICE, currentThreadNice() + checked(increment));
        Libc.setpriority(0, nice);
        return nice;
    }

    /**
     * Lowers every thread of this process by {@code increment} (each from its own nice value, at most to
     * {@link #MAX_NICE}), the JVM's own threads included; threads started afterwards inherit their creator's.
     * A thread that ends meanwhile is skipped.
     *
     * @return how many threads were lowered
     */
    public static int lowerProcess(int increment) throws IOException {
        checked(increment);
        int lowered = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path task : tasks) {
                int tid = Integer.parseInt(task.getFileName().toString());
                try {
                    Libc.setpriority(tid, Math.min(MAX_NICE, niceOf(task.resolve("stat")) + increment));
                    lowered++;
                } catch (NoSuchFileException e) {
                    // ended before we got to it
                } catch (NativeException e) {
                    if (e.errno() != Libc.ESRCH) {
                        throw e;
                    }
                }
            }
        }
        return lowered;
    }

    /** The nice value in a thread's or process's {@code stat} file, e.g. {@code /proc/<pid>/task/<tid>/stat}. */
    public static int niceOf(Path stat) throws IOException {
        return parseNice(Files.readString(stat));
    }

    static int parseNice(String statLine) {
        return Integer.parseInt(ProcStat.field(statLine, 19));
    }

    private static int checked(int increment) {
        if (increment < 0 || increment > 2 * MAX_NICE + 1) {
            throw new IllegalArgumentException("a priority can only be lowered here: increment 0.." + (2 * MAX_NICE + 1)
                    + ", got " + increment);
        }
        return increment;
    }
}
