package io.nodemesh.proxy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.util.SplittableRandom;
import java.util.zip.CRC32;

/** Reproducible byte streams for tests: stream {@code seed} of length {@code n}, and its CRC32. */
final class SeededData {

    private static final byte[] BLOCK = new byte[1 << 20];

    static {
        new SplittableRandom(42).nextBytes(BLOCK);
    }

    private SeededData() {
    }

    private static int start(long seed) {
        return (int) Math.floorMod(seed * 7919L, (long) BLOCK.length);
    }

    /** Writes stream {@code seed} of {@code length} bytes to {@code ch} (blocking). */
    static void write(SocketChannel ch, long seed, long length) throws IOException {
        int pos = start(seed);
        long left = length;
        while (left > 0) {
            int n = (int) Math.min(left, Math.min(64 * 1024, BLOCK.length - pos));
            ByteBuffer buf = ByteBuffer.wrap(BLOCK, pos, n);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            left -= n;
            pos = (pos + n) % BLOCK.length;
        }
    }

    /** The CRC32 of stream {@code seed} of {@code length} bytes. */
    static long crc(long seed, long length) {
        CRC32 crc = new CRC32();
        int pos = start(seed);
        long left = length;
        while (left > 0) {
            int n = (int) Math.min(left, BLOCK.length - pos);
            crc.update(BLOCK, pos, n);
            left -= n;
            pos = (pos + n) % BLOCK.length;
        }
        return crc.getValue();
    }

    /** Reads {@code ch} to end of stream; returns {@code {bytes, crc32}}. */
    static long[] readAll(SocketChannel ch) throws IOException {
        CRC32 crc = new CRC32();
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        long total = 0;
        while (true) {
            buf.clear();
            int n = ch.read(buf);
            if (n < 0) {
                return new long[] {total, crc.getValue()};
            }
            buf.flip();
            crc.update(buf);
            total += n;
        }
    }

    /** Reads exactly 4 bytes as an int. */
    static int readInt(SocketChannel ch) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(4);
        while (buf.hasRemaining()) {
            if (ch.read(buf) < 0) {
                throw new IOException("end of stream before the 4-byte header");
            }
        }
        return buf.flip().getInt();
    }

    static void writeInt(SocketChannel ch, int value) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(4).putInt(value).flip();
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
