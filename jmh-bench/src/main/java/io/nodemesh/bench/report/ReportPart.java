package io.nodemesh.bench.report;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/** The parts of the benchmark report, in the order {@code Report} runs them; {@link #cliName} is what {@code --only} takes. */
public enum ReportPart {
    MICRO("micro"),
    TELEMETRY("telemetry"),
    ONOFF("onoff"),
    MATRIX("matrix"),
    GROWTH("growth"),
    E2E("e2e");

    private final String cliName;

    ReportPart(String cliName) {
        this.cliName = cliName;
    }

    /** The name {@code --only} accepts. */
    public String cliName() {
        return cliName;
    }

    /**
     * The parts named in {@code --only} (comma-separated words, already split or not), in run order; every part when
     * {@code names} is null or empty. Unknown names are an operator mistake: the message names them and the known ones.
     */
    public static List<ReportPart> parseOnly(List<String> names) {
        if (names == null || names.isEmpty()) {
            return List.of(values());
        }
        Set<ReportPart> chosen = EnumSet.noneOf(ReportPart.class);
        List<String> unknown = new ArrayList<>();
        for (String raw : names) {
            for (String word : raw.split(",")) {
                String name = word.trim().toLowerCase(Locale.ROOT);
                if (name.isEmpty()) {
                    continue;
                }
                Arrays.stream(values()).filter(p -> p.cliName.equals(name)).findFirst()
                        .ifPresentOrElse(chosen::add, () -> unknown.add(word.trim()));
            }
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("--only: unknown part" + (unknown.size() > 1 ? "s " : " ")
                    + unknown.stream().map(u -> "'" + u + "'").collect(Collectors.joining(", "))
                    + " (known: " + Arrays.stream(values()).map(ReportPart::cliName).collect(Collectors.joining(", ")) + ")");
        }
        if (chosen.isEmpty()) {
            throw new IllegalArgumentException("--only: no part named (known: "
                    + Arrays.stream(values()).map(ReportPart::cliName).collect(Collectors.joining(", ")) + ")");
        }
        return List.copyOf(chosen);
    }
}
