package io.nodemesh.proxy.telemetry;

/** What the data path tells telemetry about a connection: that it opened, or that it finished. */
public sealed interface ConnectionEvent permits OpenedConnection, ClosedConnection {
}
