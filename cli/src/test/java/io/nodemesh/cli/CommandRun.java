package io.nodemesh.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/** Runs {@code nodemesh} in-process, as a user would type it, and keeps what it printed to stdout and stderr. */
public final class CommandRun {

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    /** Runs {@code nodemesh args…}; returns its exit status. What it prints adds to {@link #out()} and {@link #err()}. */
    public int nodemesh(String... args) {
        CommandLine cli = NodemeshCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        cli.setErr(new PrintWriter(err, true));
        return cli.execute(args);
    }

    /** Everything printed to stdout since the start or the last {@link #clearOut()}. */
    public String out() {
        return out.toString();
    }

    public String err() {
        return err.toString();
    }

    public void clearOut() {
        out.getBuffer().setLength(0);
    }
}
