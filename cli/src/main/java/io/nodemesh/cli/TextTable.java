package io.nodemesh.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;

/** A plain-text table for terminal output: a header row, then rows, columns padded to fit, text left-aligned. */
final class TextTable {

    private final List<String[]> rows = new ArrayList<>();
    private int firstNumberColumn = Integer.MAX_VALUE;

    TextTable(String... header) {
        rows.add(header);
    }

    TextTable row(Object... cells) {
        String[] text = new String[cells.length];
        for (int i = 0; i < cells.length; i++) {
            text[i] = cells[i] == null ? "-" : String.valueOf(cells[i]);
        }
        rows.add(text);
        return this;
    }

    /** Right-aligns the columns from {@code column} (0-based) on: they hold numbers. */
    TextTable numbersFrom(int column) {
        firstNumberColumn = column;
        return this;
    }

    void print(PrintWriter out) {
        int[] widths = new int[rows.get(0).length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                widths[i] = Math.max(widths[i], row[i].length());
            }
        }
        for (String[] row : rows) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < row.length; i++) {
                String cell = i >= firstNumberColumn ? String.format("%" + widths[i] + "s", row[i])
                        : i == row.length - 1 ? row[i] : String.format("%-" + widths[i] + "s", row[i]);
                line.append(cell).append(i < row.length - 1 ? "  " : "");
            }
            out.println(line.toString().stripTrailing());
        }
    }
}
