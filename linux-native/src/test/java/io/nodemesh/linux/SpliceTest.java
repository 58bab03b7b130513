package io.nodemesh.linux;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Splice} between two pipes (splice needs a pipe on one side; the relay's other side, a TCP socket, is covered
 * by node-proxy's SocketRelayTest): bytes move in order without blocking, EAGAIN when the destination is full, 0 at
 * the end of the input, and a pipe takes a new size.
 */
class SpliceTest {

    @Test
    void bytesMoveBetweenPipesWithoutBlockingAndTheEndOfInputIsZero() throws Exception {
        int[] a = Splice.pipe();
        int[] b = Splice.pipe();
        try {
            assertThat(Splice.resize(a[1], 256 * 1024)).isGreaterThanOrEqualTo(256 * 1024);
            byte[] sent = new byte[100 * 1024];
            new Random(7).nextBytes(sent);
            try (OutputStream in = new FileOutputStream("/proc/self/fd/" + a[1])) {
                in.write(sent); // fits a's 256 KiB
            }
            assertThat(Splice.move(a[0], b[1], 1024 * 1024)).as("b holds its default 64 KiB").isEqualTo(64 * 1024);
            assertThat(Splice.move(a[0], b[1], 1024 * 1024)).as("b is full").isEqualTo(Splice.EAGAIN_NEGATIVE);
            byte[] got = new byte[sent.length];
            try (InputStream out = new FileInputStream("/proc/self/fd/" + b[0])) {
                assertThat(out.readNBytes(got, 0, 64 * 1024)).isEqualTo(64 * 1024);
                assertThat(Splice.move(a[0], b[1], 1024 * 1024)).isEqualTo(sent.length - 64 * 1024);
                assertThat(out.readNBytes(got, 64 * 1024, sent.length - 64 * 1024)).isEqualTo(sent.length - 64 * 1024);
            }
            assertThat(got).isEqualTo(sent);
            assertThat(Splice.move(a[0], b[1], 1024)).as("a is empty, its writer still open")
                    .isEqualTo(Splice.EAGAIN_NEGATIVE);
            Descriptors.close(a[1]);
            a[1] = -1;
            assertThat(Splice.move(a[0], b[1], 1024)).as("a's writer closed: the end of its input").isZero();
        } finally {
            Arrays.stream(new int[] {a[0], a[1], b[0], b[1]}).filter(fd -> fd >= 0).forEach(Descriptors::close);
        }
    }
}
