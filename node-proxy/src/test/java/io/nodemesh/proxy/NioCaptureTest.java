package io.nodemesh.proxy;

import io.nodemesh.proxy.transport.TransportKind;

/**
 * The capture tests again on Java NIO, whose sockets' descriptors nodemesh reaches through
 * {@code sun.nio.ch} (capture.NioDescriptors) for SO_ORIGINAL_DST and SO_MARK. A missing mark would
 * show as each upstream connection being captured again (more opened connections than clients).
 */
class NioCaptureTest extends CaptureTest {

    @Override
    TransportKind transport() {
        return TransportKind.NIO;
    }

    /** 20 connections (10 MB each way): the epoll run carries the volume; this one the NIO path. */
    @Override
    int bulkConnections() {
        return 20;
    }
}
