package io.nodemesh.topology;

import java.util.List;

/**
 * The outcome of a command run to completion.
 *
 * @param command the argv that ran
 * @param exitCode its exit status
 * @param stdout what it printed on standard output
 * @param stderr what it printed on standard error
 */
public record ExecResult(List<String> command, int exitCode, String stdout, String stderr) {

    /** Whether the command exited with status 0. */
    public boolean ok() {
        return exitCode == 0;
    }

    /** Throws an {@link AssertionError} with the full output unless the command succeeded. */
    public ExecResult requireOk() {
        if (exitCode != 0) {
            throw new AssertionError(describe());
        }
        return this;
    }

    /** The command, its status and its output, for failure messages. */
    public String describe() {
        return String.join(" ", command) + " exited " + exitCode
                + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
    }
}
