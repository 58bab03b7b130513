package io.nodemesh.telemetry.accesslog;

import com.fasterxml.jackson.core.JsonEncoding;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import io.nodemesh.telemetry.metrics.AgentSelfMetrics;
import io.nodemesh.telemetry.report.Endpoints;
import io.nodemesh.telemetry.report.ResponseFlags;
import io.nodemesh.telemetry.report.Workloads;
import io.nodemesh.telemetry.v1.ConnectionPhase;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.Direction;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.Side;
import io.nodemesh.telemetry.v1.Workload;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Instant;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one JSON line per connection record to a file or stdout, at most {@code linesPerSecond}
 * lines a second (a token bucket with one second of burst); lines over the rate are counted in
 * {@code nodemesh_agent_access_log_lines_total{result="suppressed"}}, not written.
 */
public final class AccessLog implements Closeable {

    private static final Logger LOG = LoggerFactory.getLogger(AccessLog.class);

    private final OutputStream out;
    private final boolean ownsStream;
    private final JsonGenerator json;
    private final TokenBucket bucket;
    private final AgentSelfMetrics self;
    private boolean failed;

    private AccessLog(OutputStream out, boolean ownsStream, double linesPerSecond, AgentSelfMetrics self)
            throws IOException {
        this.out = out;
        this.ownsStream = ownsStream;
        this.json = new JsonFactory().createGenerator(out, JsonEncoding.UTF8);
        this.json.setRootValueSeparator(null);
        this.bucket = new TokenBucket(linesPerSecond, System::nanoTime);
        this.self = self;
    }

    /** Appends to {@code file} (created if missing). */
    public static AccessLog toFile(Path file, double linesPerSecond, AgentSelfMetrics self) throws IOException {
        return new AccessLog(new BufferedOutputStream(new FileOutputStream(file.toFile(), true)), true,
                linesPerSecond, self);
    }

    /** Writes to the process's standard output, which it leaves open. */
    public static AccessLog toStdout(double linesPerSecond, AgentSelfMetrics self) throws IOException {
        return new AccessLog(new BufferedOutputStream(System.out), false, linesPerSecond, self);
    }

    /** Logs the connection records of an accepted batch, then flushes once. */
    public synchronized void log(ReportBatch batch) {
        if (failed) {
            return;
        }
        try {
            boolean wrote = false;
            for (ConnectionRecord r : batch.getConnectionsList()) {
                if (r.getPhase() == ConnectionPhase.CONNECTION_PHASE_OPENED) {
                    continue; // one line per connection, written when it is finished
                }
                boolean allowed = bucket.tryTake();
                self.accessLogLine(allowed);
                if (allowed) {
                    line(batch, r);
                    wrote = true;
                }
            }
            if (wrote) {
                json.flush();
            }
        } catch (IOException e) {
            // A full disk must not take the agent down: stop logging and say so once.
            failed = true;
            LOG.error("access log write failed, access logging is off from now on", e);
        }
    }

    private void line(ReportBatch batch, ConnectionRecord r) throws IOException {
        json.writeStartObject();
        json.writeStringField("start_time", Instant.ofEpochMilli(r.getOpenedAtEpochMillis()).toString());
        json.writeNumberField("duration_ms", r.getDurationNanos() / 1_000_000);
        json.writeStringField("reporter", r.getDirection() == Direction.DIRECTION_INBOUND ? "destination" : "source");
        json.writeStringField("reporter_id", batch.getReporterId());
        json.writeStringField("node", batch.getNode());
        Workload source = Workloads.source(batch, r);
        Workload destination = Workloads.destination(batch, r);
        // Nothing known is "unknown", as in the metrics (and Istio's), never an empty string.
        json.writeStringField("source_workload", Workloads.orUnknown(source.getName()));
        json.writeStringField("source_namespace", Workloads.orUnknown(source.getNamespace()));
        json.writeStringField("source_principal", Workloads.orUnknown(source.getPrincipal()));
        json.writeStringField("source_address", Endpoints.source(r));
        json.writeStringField("destination_workload", Workloads.orUnknown(destination.getName()));
        json.writeStringField("destination_namespace", Workloads.orUnknown(destination.getNamespace()));
        json.writeStringField("destination_principal", Workloads.orUnknown(destination.getPrincipal()));
        json.writeStringField("destination_service", Workloads.orUnknown(Workloads.service(batch, r)));
        json.writeStringField("destination_address", Endpoints.destination(r));
        json.writeNumberField("bytes_sent", r.getBytesSent());
        json.writeNumberField("bytes_received", r.getBytesReceived());
        json.writeStringField("outcome", r.getOutcome().name().replace("OUTCOME_", ""));
        if (r.getEndedBy() == Side.SIDE_DOWNSTREAM || r.getEndedBy() == Side.SIDE_UPSTREAM) {
            json.writeStringField("ended_by", r.getEndedBy() == Side.SIDE_DOWNSTREAM ? "downstream" : "upstream");
        }
        json.writeStringField("response_flags",
                r.getResponseFlags().isEmpty() ? ResponseFlags.of(r.getOutcome(), r.getEndedBy())
                        : r.getResponseFlags());
        json.writeEndObject();
        json.writeRaw('\n');
    }

    @Override
    public synchronized void close() throws IOException {
        json.flush();
        if (ownsStream) {
            out.close();
        }
    }
}
