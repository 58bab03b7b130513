package io.nodemesh.bench.harness;

/**
 * One measured wrk run against one subject.
 *
 * @param subject the subject's name
 * @param round the round it belongs to (0-based)
 * @param wrk what wrk reported
 * @param cpuSeconds CPU seconds the subject's own process (proxy, HAProxy) used during the run,
 *        or {@code Double.NaN} when the subject has no process of its own (direct)
 * @param othersOnProxyCore share (0..1) of the proxy core's time that processes other than the
 *        subject's used during the run: what else competed for the core; NaN when nothing is pinned
 */
public record RoundResult(String subject, int round, WrkResult wrk, double cpuSeconds, double othersOnProxyCore) {
}
