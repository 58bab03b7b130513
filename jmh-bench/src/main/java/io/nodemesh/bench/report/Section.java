package io.nodemesh.bench.report;

/** A generated Markdown section: what goes between {@code <!-- name:begin -->} and {@code <!-- name:end -->}. */
public record Section(String name, String markdown) {
}
