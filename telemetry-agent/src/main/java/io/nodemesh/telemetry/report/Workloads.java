package io.nodemesh.telemetry.report;

import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.Workload;

/** Resolves a record's source, destination and service, inline or by reference into the batch's tables. */
public final class Workloads {

    /** What Istio's standard metrics write for a workload, namespace, principal or service nobody knows. */
    public static final String UNKNOWN = "unknown";

    private Workloads() {
    }

    /** {@code value}, or {@link #UNKNOWN} when the reporter knew nothing (sent it empty). */
    public static String orUnknown(String value) {
        return value.isEmpty() ? UNKNOWN : value;
    }

    /** The source workload of {@code r}; the batch must have passed validation. */
    public static Workload source(ReportBatch batch, ConnectionRecord r) {
        return r.getSourceRef() == 0 ? r.getSource() : batch.getWorkloads(r.getSourceRef() - 1);
    }

    /** The destination workload of {@code r}; the batch must have passed validation. */
    public static Workload destination(ReportBatch batch, ConnectionRecord r) {
        return r.getDestinationRef() == 0 ? r.getDestination() : batch.getWorkloads(r.getDestinationRef() - 1);
    }

    /** The destination service of {@code r}; the batch must have passed validation. */
    public static String service(ReportBatch batch, ConnectionRecord r) {
        return r.getDestinationServiceRef() == 0
                ? r.getDestinationService() : batch.getServices(r.getDestinationServiceRef() - 1);
    }
}
