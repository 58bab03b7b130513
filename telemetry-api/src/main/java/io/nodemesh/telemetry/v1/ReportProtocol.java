package io.nodemesh.telemetry.v1;

import java.nio.file.Path;

/** What the reporter and the agent agree on beside the messages of {@code report.proto}. */
public final class ReportProtocol {

    /** The protocol version a batch carries; the agent refuses any other. */
    public static final int VERSION = 1;

    /** Where the agent listens and the proxy reports, unless both are told otherwise. */
    public static final Path DEFAULT_SOCKET = Path.of("/var/run/nodemesh/telemetry.sock");

    private ReportProtocol() {
    }
}
