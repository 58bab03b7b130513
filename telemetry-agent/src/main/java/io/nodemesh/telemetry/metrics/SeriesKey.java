package io.nodemesh.telemetry.metrics;

/**
 * One Istio label set. {@code responseCode} is only a label of the request metrics; TCP series
 * carry an empty one.
 */
record SeriesKey(
        String reporter,
        String sourceWorkload,
        String sourceNamespace,
        String sourcePrincipal,
        String destinationWorkload,
        String destinationNamespace,
        String destinationPrincipal,
        String destinationService,
        String requestProtocol,
        String responseCode,
        String responseFlags,
        String securityPolicy) {

    static final String OVERFLOW = "overflow";

    /** The label set every record folds into once the series limit is reached. */
    static final SeriesKey OVERFLOW_KEY = new SeriesKey(OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW,
            OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW, OVERFLOW);

    /** Label names of the istio_tcp_* families, in the order of {@link #tcpValues()}. */
    static final String[] TCP_LABELS = {"reporter", "source_workload", "source_workload_namespace",
        "source_principal", "destination_workload", "destination_workload_namespace", "destination_principal",
        "destination_service", "request_protocol", "response_flags", "connection_security_policy"};

    /** Label names of istio_requests_total and the duration histogram, in the order of {@link #requestValues()}. */
    static final String[] REQUEST_LABELS = {"reporter", "source_workload", "source_workload_namespace",
        "source_principal", "destination_workload", "destination_workload_namespace", "destination_principal",
        "destination_service", "request_protocol", "response_code", "response_flags", "connection_security_policy"};

    String[] tcpValues() {
        return new String[] {reporter, sourceWorkload, sourceNamespace, sourcePrincipal, destinationWorkload,
            destinationNamespace, destinationPrincipal, destinationService, requestProtocol, responseFlags,
            securityPolicy};
    }

    String[] requestValues() {
        return new String[] {reporter, sourceWorkload, sourceNamespace, sourcePrincipal, destinationWorkload,
            destinationNamespace, destinationPrincipal, destinationService, requestProtocol, responseCode,
            responseFlags, securityPolicy};
    }
}
