package io.nodemesh.bench.growth;

/** Replaces (or appends) the part of a Markdown file between {@code <!-- name:begin -->} and {@code <!-- name:end -->}. */
public final class MarkedSection {

    private MarkedSection() {
    }

    /** {@code text} with the {@code name} section's body replaced by {@code body}; appended when absent. */
    public static String replace(String text, String name, String body) {
        String begin = "<!-- " + name + ":begin -->";
        String end = "<!-- " + name + ":end -->";
        String section = begin + "\n" + body.strip() + "\n" + end;
        int b = text.indexOf(begin);
        int e = text.indexOf(end);
        if (b < 0 && e < 0) {
            String sep = text.isEmpty() || text.endsWith("\n\n") ? "" : text.endsWith("\n") ? "\n" : "\n\n";
            return text + sep + section + "\n";
        }
        if (b < 0 || e < b) {
            throw new IllegalArgumentException("the results file has a damaged " + name + " section (markers "
                    + begin + " and " + end + " are not a pair in that order); fix it by hand before rerunning");
        }
        return text.substring(0, b) + section + text.substring(e + end.length());
    }
}
