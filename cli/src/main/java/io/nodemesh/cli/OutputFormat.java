package io.nodemesh.cli;

import java.io.PrintWriter;

/**
 * The debugging commands' {@code -o}: {@code table} (the default, for people) or {@code json} (what the admin API or the
 * agent answered, as it answered it, for scripts).
 */
final class OutputFormat {

    static final String TABLE = "table";
    static final String JSON = "json";
    /** The option's help text. */
    static final String DESCRIPTION = "Output: table (default) or json (the API's answer as it is).";

    private OutputFormat() {
    }

    /** Whether {@code value} is a format; {@code command} says why not on {@code err}. */
    static boolean check(String value, String command, PrintWriter err) {
        if (TABLE.equals(value) || JSON.equals(value)) {
            return true;
        }
        err.println("nodemesh " + command + ": -o: '" + value + "' is not table or json");
        return false;
    }

    /** Prints a JSON body as the server sent it, ending with one newline. */
    static void printJson(PrintWriter out, String body) {
        out.print(body.endsWith("\n") ? body : body + "\n");
        out.flush();
    }
}
