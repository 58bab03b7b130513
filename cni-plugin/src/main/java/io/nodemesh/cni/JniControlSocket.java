package io.nodemesh.cni;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.OptionalInt;

/**
 * The control socket and the pod's namespace through {@code libnodemesh-cni.so} (src/main/native/nodemesh-cni.c):
 * {@code SOCK_SEQPACKET} with the namespace's descriptor by {@code SCM_RIGHTS}, and {@code O_RDONLY|O_CLOEXEC} plus
 * {@code NS_GET_NSTYPE}. JNI, not linux-native's FFM: the plugin is a fresh JVM per pod start, and linking its FFM
 * downcalls took 80–120 ms of an enrolled pod's ADD (docs/cni.md, "Why JNI"). The library is loaded from the path
 * in the system property {@value #LIBRARY_PROPERTY}, which the launcher sets, when a pod goes to the proxy: a pod that
 * is passed through loads nothing.
 */
final class JniControlSocket implements ProxyClient, ProxyClient.Namespaces {

    /** The system property naming the library's file. */
    static final String LIBRARY_PROPERTY = "nodemesh.cni.library";

    // failure[0]: the step that failed, as nodemesh-cni.c numbers them; failure[1]: its errno (STEP_TYPE: the type).
    // The steps not named here are the default branches below: open (1), receive (7).
    private static final int STEP_NSTYPE = 2;
    private static final int STEP_TYPE = 3;
    private static final int STEP_SOCKET = 4;
    private static final int STEP_CONNECT = 5;
    private static final int STEP_SEND = 6;
    private static final int STEP_PATH = 8;

    private static final int ENOENT = 2;
    private static final int EAGAIN = 11;
    private static final int ECONNREFUSED = 111;

    private static volatile boolean loaded;

    @Override
    public byte[] call(Path socket, Duration timeout, byte[] request, OptionalInt netnsFd) throws IOException {
        load();
        int[] failure = new int[2];
        byte[] reply = new byte[ControlMessage.MAX_BYTES];
        long micros = Math.max(timeout.toNanos() / 1000, timeout.isZero() ? 0 : 1);
        int length = nativeExchange(bytes(socket), micros, request, netnsFd.orElse(-1), reply, failure);
        if (length < 0) {
            int errno = failure[1];
            String what = switch (failure[0]) {
                case STEP_PATH -> "the socket path " + socket + " is longer than an AF_UNIX address holds";
                case STEP_SOCKET -> "socket for " + socket + ": " + describe(errno);
                case STEP_CONNECT -> "connect to " + socket + ": " + describe(errno);
                case STEP_SEND -> "sendmsg to " + socket + ": " + describe(errno);
                default -> "receive from " + socket + ": " + describe(errno);
            };
            if (failure[0] == STEP_CONNECT && (errno == ENOENT || errno == ECONNREFUSED)) {
                throw new Unreachable(what, null);
            }
            if (errno == EAGAIN && failure[0] != STEP_SOCKET) {
                throw new TimedOut(what + " (timed out after " + timeout.toMillis() + " ms)");
            }
            throw new IOException(what);
        }
        if (length == 0) {
            throw new IOException("the proxy closed the connection without a reply");
        }
        if (length > reply.length) {
            throw new IOException("the proxy's reply is larger than " + ControlMessage.MAX_BYTES + " bytes");
        }
        return Arrays.copyOf(reply, length);
    }

    @Override
    public int openNetwork(Path path) throws IOException {
        load();
        int[] failure = new int[2];
        int fd = nativeOpenNetwork(bytes(path), failure);
        if (fd >= 0) {
            return fd;
        }
        throw switch (failure[0]) {
            case STEP_NSTYPE -> new NotANamespace("ioctl NS_GET_NSTYPE: " + describe(failure[1]));
            case STEP_TYPE -> new NotANamespace("it is a namespace of another type (" + failure[1] + ")");
            case STEP_PATH -> new IOException("open " + path + ": the path is too long or holds a NUL");
            default -> new IOException("open " + path + ": " + describe(failure[1]));
        };
    }

    @Override
    public void close(int fd) {
        nativeClose(fd);
    }

    private static byte[] bytes(Path path) {
        return path.toString().getBytes(StandardCharsets.UTF_8);
    }

    private static String describe(int errno) {
        return nativeStrerror(errno) + " (errno " + errno + ")";
    }

    private static void load() {
        if (!loaded) {
            load(System.getProperty(LIBRARY_PROPERTY));
        }
    }

    /**
     * Loads {@code library} (loading it again is harmless).
     *
     * @throws IllegalStateException it is not named or does not load: the plugin is broken, not the pod's input
     */
    static synchronized void load(String library) {
        if (library == null || library.isEmpty()) {
            throw new IllegalStateException("nodemesh-cni's native library is not named (system property "
                    + LIBRARY_PROPERTY + "; the launcher sets it to nodemesh-cni.d/libnodemesh-cni.so)");
        }
        try {
            System.load(Path.of(library).toAbsolutePath().toString()); // the launcher's path may be relative
        } catch (UnsatisfiedLinkError e) {
            throw new IllegalStateException("nodemesh-cni cannot load its native library " + library + ": "
                    + e.getMessage(), e);
        }
        loaded = true;
    }

    private static native int nativeOpenNetwork(byte[] path, int[] failure);

    private static native void nativeClose(int fd);

    private static native int nativeExchange(byte[] path, long timeoutMicros, byte[] request, int fd, byte[] reply,
                                             int[] failure);

    private static native String nativeStrerror(int errno);
}
