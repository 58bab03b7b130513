package io.nodemesh.bench.load;

import java.nio.ByteBuffer;
import java.util.Base64;
import java.util.concurrent.TimeUnit;
import java.util.zip.DataFormatException;
import org.HdrHistogram.Histogram;

/** Latency histograms as the load tools keep them: microseconds, 3 significant digits, up to one minute. */
public final class Histograms {

    /** Longest latency tracked; larger values are clamped to it (and visible as the max). */
    public static final long HIGHEST_TRACKABLE_MICROS = TimeUnit.MINUTES.toMicros(1);

    private Histograms() {
    }

    /** A fresh, single-threaded latency histogram. */
    public static Histogram newLatencyHistogram() {
        return new Histogram(HIGHEST_TRACKABLE_MICROS, 3);
    }

    /** Records a nanosecond interval in microseconds, clamping to the trackable range. */
    public static void recordNanos(Histogram histogram, long nanos) {
        long micros = Math.max(0, nanos) / 1_000;
        histogram.recordValue(Math.min(micros, HIGHEST_TRACKABLE_MICROS));
    }

    /** The histogram in HdrHistogram's compressed form, Base64: lets the harness merge and re-plot runs. */
    public static String encode(Histogram histogram) {
        ByteBuffer buffer = ByteBuffer.allocate(histogram.getNeededByteBufferCapacity());
        int length = histogram.encodeIntoCompressedByteBuffer(buffer);
        return Base64.getEncoder().encodeToString(java.util.Arrays.copyOf(buffer.array(), length));
    }

    /** Reads back what {@link #encode} wrote. */
    public static Histogram decode(String base64) {
        try {
            return Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(Base64.getDecoder().decode(base64)), 0);
        } catch (DataFormatException | IllegalArgumentException e) {
            throw new IllegalArgumentException("not an encoded HdrHistogram: " + e.getMessage(), e);
        }
    }
}
