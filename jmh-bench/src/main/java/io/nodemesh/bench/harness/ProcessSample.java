package io.nodemesh.bench.harness;

import io.nodemesh.linux.ProcStat;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.ExecResult;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * CPU time and memory of one process at one moment, read from {@code /proc/<pid>/stat} and
 * {@code /proc/<pid>/status}; and the CPU time of some of its threads ({@link #threadCpuNanos}).
 *
 * @param cpuTicks user + system time in clock ticks ({@code utime + stime})
 * @param rssKb resident set size now ({@code VmRSS}) in KiB
 * @param hwmKb peak resident set size so far ({@code VmHWM}) in KiB
 */
public record ProcessSample(long cpuTicks, long rssKb, long hwmKb) {

    /** Clock ticks per second, the unit of {@link #cpuTicks} ({@code getconf CLK_TCK}; 100 if it cannot say). */
    public static long clockTicksPerSecond() {
        ExecResult tck = Commands.run("getconf", "CLK_TCK");
        String value = tck.stdout().strip();
        return tck.ok() && value.matches("\\d+") ? Long.parseLong(value) : 100;
    }

    /** Reads the process {@code pid} now. */
    public static ProcessSample of(long pid) throws IOException {
        Path dir = Path.of("/proc", Long.toString(pid));
        return new ProcessSample(cpuTicks(Files.readString(dir.resolve("stat"))),
                kb(Files.readString(dir.resolve("status")), "VmRSS"),
                kb(Files.readString(dir.resolve("status")), "VmHWM"));
    }

    /**
     * CPU time in nanoseconds of each thread of {@code pid} whose name ({@code /proc/<pid>/task/<tid>/comm}, which the
     * kernel cuts to 15 characters) starts with {@code prefix} ("" for every thread), by thread id. Read from
     * {@code /proc/<pid>/task/<tid>/schedstat}, the scheduler's own count: a reporting thread runs for a few
     * milliseconds a second, less than the 10 ms clock tick {@code stat} counts in. Without schedstat (a kernel
     * without {@code CONFIG_SCHED_INFO}) the thread's ticks, converted. Threads that end while being read are skipped.
     */
    public static Map<Long, Long> threadCpuNanos(long pid, String prefix) throws IOException {
        Map<Long, Long> cpu = new HashMap<>();
        try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            for (Path task : (Iterable<Path>) tasks::iterator) {
                try {
                    if (Files.readString(task.resolve("comm")).startsWith(prefix)) {
                        cpu.put(Long.parseLong(task.getFileName().toString()), cpuNanos(task));
                    }
                } catch (NoSuchFileException gone) {
                    // the thread ended between the listing and the read
                }
            }
        }
        return cpu;
    }

    /**
     * CPU nanoseconds the threads of {@code after} used since {@code before} (two {@link #threadCpuNanos} readings):
     * a thread that is new in {@code after} counts from zero; one that ended in between counts nothing.
     */
    public static long cpuNanosBetween(Map<Long, Long> before, Map<Long, Long> after) {
        long sum = 0;
        for (var e : after.entrySet()) {
            sum += e.getValue() - before.getOrDefault(e.getKey(), 0L);
        }
        return sum;
    }

    private static long cpuNanos(Path task) throws IOException {
        Path schedstat = task.resolve("schedstat");
        if (Files.exists(schedstat)) {
            return schedstatNanos(Files.readString(schedstat));
        }
        return cpuTicks(Files.readString(task.resolve("stat"))) * (1_000_000_000L / Ticks.PER_SECOND);
    }

    /** Asks getconf once, and only when a kernel without schedstat needs it. */
    private static final class Ticks {
        static final long PER_SECOND = clockTicksPerSecond();
    }

    /** The first field of a {@code schedstat} line: time spent on the CPU, in nanoseconds. */
    static long schedstatNanos(String schedstat) {
        String[] f = schedstat.trim().split("\\s+");
        if (f.length != 3) {
            throw new IllegalArgumentException("not a schedstat line: " + schedstat);
        }
        return Long.parseLong(f[0]);
    }

    /** {@code utime + stime} (fields 14 and 15) of a {@code /proc/<pid>/stat} line. */
    static long cpuTicks(String stat) {
        return Long.parseLong(ProcStat.field(stat, 14)) + Long.parseLong(ProcStat.field(stat, 15));
    }

    /** The value in KiB of a {@code Key:   1234 kB} line of {@code /proc/<pid>/status}. */
    static long kb(String status, String key) {
        for (String line : status.split("\n")) {
            if (line.startsWith(key + ":")) {
                String[] parts = line.substring(key.length() + 1).trim().split("\\s+");
                if (parts.length != 2 || !parts[1].equals("kB")) {
                    throw new IllegalArgumentException("unexpected " + key + " line: " + line);
                }
                return Long.parseLong(parts[0]);
            }
        }
        throw new IllegalArgumentException("/proc/<pid>/status has no " + key + " line");
    }
}
