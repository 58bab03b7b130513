package io.nodemesh.bench.load;

import java.util.Arrays;

/**
 * The wire format shared by {@link LoadServer} and the load clients.
 *
 * <p>Request/response ({@link ServerMode#RR}): the client writes a request of exactly
 * {@code requestSize} bytes; the server answers each complete request with exactly
 * {@code responseSize} bytes, in order, on the same connection. The first byte of a request says
 * what happens to the connection afterwards: {@link #KEEP_ALIVE} or {@link #CLOSE_AFTER_RESPONSE}
 * (the server closes first once the response is written, so the TIME_WAIT state lands on the
 * server's side of the connection and the churning client does not run out of ephemeral ports).
 * Bulk modes carry opaque bytes. Both sides must be started with the same sizes.
 */
public final class LoadProtocol {

    /** First request byte: keep the connection open for more requests. */
    public static final byte KEEP_ALIVE = 'K';
    /** First request byte: the server closes the connection after writing the response. */
    public static final byte CLOSE_AFTER_RESPONSE = 'C';
    /** Istio's benchmark payload: 1 KB each way. */
    public static final int DEFAULT_PAYLOAD = 1024;
    /** Largest request or response the tools accept; keeps a typo from allocating gigabytes. */
    public static final int MAX_PAYLOAD = 16 * 1024 * 1024;

    private LoadProtocol() {
    }

    /** A request of {@code size} bytes whose first byte is {@code flag} and the rest filler. */
    public static byte[] request(int size, byte flag) {
        checkSize("request size", size);
        byte[] request = new byte[size];
        Arrays.fill(request, (byte) 'x');
        request[0] = flag;
        return request;
    }

    /** Rejects a payload size outside 1..{@link #MAX_PAYLOAD} with a message naming it. */
    public static int checkSize(String what, int size) {
        if (size < 1 || size > MAX_PAYLOAD) {
            throw new IllegalArgumentException(what + " must be between 1 and " + MAX_PAYLOAD + " bytes, got " + size);
        }
        return size;
    }
}
