package io.nodemesh.linux;

/**
 * Fields of a {@code /proc/<pid>/stat} or {@code /proc/<pid>/task/<tid>/stat} line (proc(5)), by their 1-based number.
 * The command name (field 2) is in parentheses and may itself hold spaces and parentheses, so fields are counted
 * from the last {@code ')'}.
 */
public final class ProcStat {

    private ProcStat() {
    }

    /**
     * Field {@code number} (3 or more: 14 utime, 15 stime, 19 nice, ...) of {@code statLine}.
     *
     * @throws IllegalArgumentException naming the line if it is not a stat line or has no such field
     */
    public static String field(String statLine, int number) {
        if (number < 3) {
            throw new IllegalArgumentException("fields 1 and 2 (pid, command) are not read here, asked for " + number);
        }
        int close = statLine.lastIndexOf(')');
        if (close < 0) {
            throw new IllegalArgumentException("not a /proc/<pid>/stat line: " + statLine);
        }
        String[] f = statLine.substring(close + 1).trim().split("\\s+");
        if (f.length < number - 2) {
            throw new IllegalArgumentException("/proc/<pid>/stat line too short for field " + number + ": " + statLine);
        }
        return f[number - 3]; // f[0] is field 3 (state)
    }
}
