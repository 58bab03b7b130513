package io.nodemesh.proxy;

import io.netty.channel.uring.IoUring;
import io.nodemesh.proxy.transport.TransportKind;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;

/** The capture tests again on Netty's io_uring transport. */
class IoUringCaptureTest extends CaptureTest {

    @BeforeAll
    static void needsIoUring() {
        Assumptions.assumeTrue(IoUring.isAvailable(),
                () -> "io_uring is not available here: " + IoUring.unavailabilityCause());
    }

    @Override
    TransportKind transport() {
        return TransportKind.IO_URING;
    }
}
