package io.nodemesh.telemetry.report;

import java.time.Duration;

/**
 * What the agent accepts in a report batch; anything beyond is rejected with INVALID_ARGUMENT.
 *
 * @param maxLabelLength longest accepted string for anything that becomes a label or log field
 * @param maxRecordsPerBatch most connection + request records in one batch
 * @param maxBytesPerConnection largest believable byte count for one connection
 * @param maxDuration longest believable connection or request duration
 * @param maxClockSkew how far in the future an open time may lie
 */
public record ReportLimits(
        int maxLabelLength,
        int maxRecordsPerBatch,
        long maxBytesPerConnection,
        Duration maxDuration,
        Duration maxClockSkew) {

    /** Defaults: 256-char labels, 16384 records a batch, 1 PiB a connection, a year, a day of skew. */
    public static final ReportLimits DEFAULT =
            new ReportLimits(256, 16_384, 1L << 50, Duration.ofDays(366), Duration.ofDays(1));

    public ReportLimits {
        if (maxLabelLength < 1 || maxRecordsPerBatch < 1 || maxBytesPerConnection < 1
                || maxDuration.isNegative() || maxClockSkew.isNegative()) {
            throw new IllegalArgumentException("report limits must be positive: " + this);
        }
    }
}
