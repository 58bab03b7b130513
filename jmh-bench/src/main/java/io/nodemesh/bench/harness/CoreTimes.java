package io.nodemesh.bench.harness;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One core's cumulative busy and total time from {@code /proc/stat}, in clock ticks: with the
 * subject's own CPU time it tells how much of the pinned core other processes took.
 *
 * @param busyTicks user + nice + system + irq + softirq + steal
 * @param totalTicks busy + idle + iowait
 */
public record CoreTimes(long busyTicks, long totalTicks) {

    /** Reads core {@code cpu} now. */
    public static CoreTimes of(int cpu) throws IOException {
        return parse(Files.readString(Path.of("/proc/stat")), cpu);
    }

    /** The {@code cpu<N>} line of a {@code /proc/stat} text. */
    static CoreTimes parse(String procStat, int cpu) {
        String prefix = "cpu" + cpu + " ";
        for (String line : procStat.split("\n")) {
            if (line.startsWith(prefix)) {
                String[] f = line.substring(prefix.length()).trim().split("\\s+");
                long user = Long.parseLong(f[0]);
                long nice = Long.parseLong(f[1]);
                long system = Long.parseLong(f[2]);
                long idle = Long.parseLong(f[3]);
                long iowait = Long.parseLong(f[4]);
                long irq = Long.parseLong(f[5]);
                long softirq = Long.parseLong(f[6]);
                long steal = f.length > 7 ? Long.parseLong(f[7]) : 0;
                long busy = user + nice + system + irq + softirq + steal;
                return new CoreTimes(busy, busy + idle + iowait);
            }
        }
        throw new IllegalArgumentException("/proc/stat has no line for cpu" + cpu);
    }

    /**
     * The share of the core's time between {@code before} and this sample that was busy with
     * anything but {@code ownTicks} (the subject's process), from 0 to 1.
     */
    public double othersShare(CoreTimes before, long ownTicks) {
        long total = totalTicks - before.totalTicks;
        if (total <= 0) {
            return Double.NaN;
        }
        return Math.max(0, busyTicks - before.busyTicks - ownTicks) / (double) total;
    }
}
