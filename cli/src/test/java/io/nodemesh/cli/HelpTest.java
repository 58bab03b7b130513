package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code nodemesh --help} as a newcomer reads it: one complete, short sentence per command. */
class HelpTest {

    private static String help(String... args) {
        StringWriter out = new StringWriter();
        CommandLine cli = NodemeshCommand.commandLine();
        cli.setOut(new PrintWriter(out, true));
        assertThat(cli.execute(args)).isZero();
        return out.toString();
    }

    @Test
    void everyCommandInTheListIsOneCompleteSentenceOnOneLine() {
        String help = help("--help");
        List<String> entries = new ArrayList<>();
        boolean inCommands = false;
        for (String line : help.lines().toList()) {
            assertThat(line.length()).as(line).isLessThanOrEqualTo(80);
            if (line.equals("Commands:")) {
                inCommands = true;
            } else if (inCommands && line.startsWith("  ") && !line.startsWith("   ")) {
                entries.add(line.strip());
            } else if (inCommands) {
                entries.set(entries.size() - 1, entries.getLast() + " " + line.strip() + " (wrapped)");
            }
        }
        assertThat(entries).hasSize(16).allSatisfy(entry -> assertThat(entry).endsWith(".").doesNotContain("(wrapped)"));
        assertThat(entries).contains("proxy        Run the node proxy: capture pods and relay their connections.");
    }

    @Test
    void aCommandsOwnHelpKeepsTheDetail() {
        String help = help("proxy", "--help");
        assertThat(help).contains("Run the node proxy: capture pods and relay their connections.",
                "drains and exits.", "standalone-example.yaml");
    }
}
