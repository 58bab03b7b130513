package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The command line built for one call: only the subcommand it names, answering as the whole one would. */
class NodemeshCommandTest {

    @Test
    void everySubcommandIsRegisteredUnderItsOwnName() {
        for (String name : NodemeshCommand.SUBCOMMANDS) {
            Object instance = NodemeshCommand.subcommand(name);
            assertThat(instance.getClass().getAnnotation(CommandLine.Command.class).name()).as(name).isEqualTo(name);
        }
        assertThat(NodemeshCommand.commandLine().getSubcommands().keySet())
                .containsExactlyElementsOf(NodemeshCommand.SUBCOMMANDS);
    }

    @Test
    void aCallThatNamesASubcommandBuildsThatOneAlone() {
        assertThat(NodemeshCommand.commandLine("proxy").getSubcommands()).containsOnlyKeys("proxy");
        assertThat(NodemeshCommand.commandLine("agent").getSubcommands()).containsOnlyKeys("agent");
        for (String other : new String[] {null, "help", "--version", "prxy"}) {
            assertThat(NodemeshCommand.commandLine(other).getSubcommands()).as(String.valueOf(other))
                    .hasSameSizeAs(NodemeshCommand.SUBCOMMANDS);
        }
    }

    @Test
    void itAnswersAsTheWholeCommandLineDoes() {
        assertThat(run("proxy", "--help")).isEqualTo(runWithAll("proxy", "--help")).startsWith("Usage: nodemesh proxy");
        assertThat(run("help", "agent")).isEqualTo(runWithAll("help", "agent")).startsWith("Usage: nodemesh agent");
        StringWriter err = new StringWriter();
        CommandLine misspelt = NodemeshCommand.commandLine("prxy").setErr(new PrintWriter(err, true));
        assertThat(misspelt.execute("prxy")).isEqualTo(2);
        assertThat(err.toString()).contains("Unmatched argument at index 0: 'prxy'").contains("proxy");
        // The setting reaches the one subcommand as it reached all of them (it is set after they are added).
        assertThat(NodemeshCommand.commandLine("proxy").getSubcommands().get("proxy").isCaseInsensitiveEnumValuesAllowed())
                .isTrue();
    }

    private static String run(String... args) {
        StringWriter out = new StringWriter();
        assertThat(NodemeshCommand.commandLine(args[0]).setOut(new PrintWriter(out, true)).execute(args)).isZero();
        return out.toString();
    }

    private static String runWithAll(String... args) {
        StringWriter out = new StringWriter();
        assertThat(NodemeshCommand.commandLine().setOut(new PrintWriter(out, true)).execute(args)).isZero();
        return out.toString();
    }
}
