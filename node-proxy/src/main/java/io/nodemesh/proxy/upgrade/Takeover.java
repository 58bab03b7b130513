package io.nodemesh.proxy.upgrade;

import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.NativeException;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.SeqpacketSocket;
import io.nodemesh.proxy.relay.MovedConnection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The new proxy's side of an upgrade (docs/upgrade.md): connects to the running proxy's handover socket, checks that
 * it is root's, asks to take over, and receives the pods' namespaces and listening sockets ({@link #pods()}) and the
 * CNI control socket ({@link #takeControlSocket}); once the caller accepts on them it says so ({@link #accepting})
 * and receives the relays the old proxy moves ({@link #receiveRelays}). What no capture took is closed with the
 * session.
 */
public final class Takeover implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Takeover.class);

    private final SeqpacketSocket session;
    private final Path path;
    /** The pods received and not yet claimed; guarded by this. */
    private final Map<String, InheritedPod> pods = new LinkedHashMap<>();
    private Path controlSocketPath;
    private int controlSocketFd = -1;
    private int cut;
    /** How many pods came; guarded by this. */
    private int receivedPods;
    /** Every pod received ({@code listeners_done}); guarded by this. */
    private boolean complete;
    /** Why the pods stopped coming before {@code listeners_done}, or null; guarded by this. */
    private IOException failure;
    private boolean closed;
    private Thread receiver;

    private Takeover(SeqpacketSocket session, Path path) {
        this.session = session;
        this.path = path;
    }

    /**
     * Takes over from the proxy listening at {@code path}, or returns null when none does (no socket file, or a
     * stale one nobody listens on).
     *
     * @throws IOException when a proxy listens there but the takeover fails (the old proxy carries on)
     */
    public static Takeover begin(Path path, Duration stepTimeout) throws IOException {
        Takeover t = open(path, stepTimeout);
        if (t == null) {
            return null;
        }
        try {
            while (!t.receiveOne()) {
                // until listeners_done
            }
        } catch (IOException | RuntimeException e) {
            t.fail(e);
            throw e;
        }
        t.logTaken();
        return t;
    }

    /**
     * As {@link #begin}, but returns once the first message is in (a refusal is thrown as there), and receives the
     * rest on a thread of its own: a capture {@link #claim claims} its pod as soon as it has come, while the others
     * are still on their way. For the listener keeper, whose 500 pods take a just-started JVM 0.2-0.3 s to receive.
     */
    public static Takeover stream(Path path, Duration stepTimeout) throws IOException {
        Takeover t = open(path, stepTimeout);
        if (t == null) {
            return null;
        }
        try {
            if (t.receiveOne()) {
                t.logTaken();
                return t;
            }
        } catch (IOException | RuntimeException e) {
            t.fail(e);
            throw e;
        }
        t.receiver = Thread.ofPlatform().name("nodemesh-takeover").daemon(true).start(() -> {
            try {
                while (!t.receiveOne()) {
                    // until listeners_done
                }
                t.logTaken();
            } catch (IOException | RuntimeException e) {
                synchronized (t) {
                    if (t.closed) {
                        return; // closed meanwhile: nothing to report
                    }
                }
                log.error("takeover from {}: the pods stopped coming ({}); those received are taken over, the others "
                        + "captured anew", path, e.getMessage());
                t.giveUp(e); // the captures waiting for pods that will not come go on without them
            }
        });
        return t;
    }

    /**
     * Whether {@code failure} (from {@link #begin} or {@link #stream}) is the peer's refusal ({@code failed}: the
     * keeper's when a live proxy holds the listeners), not a message this proxy could not take.
     */
    public static boolean refusedByPeer(Throwable failure) {
        return failure instanceof Handover.GaveUp;
    }

    /** Connects and asks; null when nobody listens at {@code path}. */
    private static Takeover open(Path path, Duration stepTimeout) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return null;
        }
        SeqpacketSocket session;
        try {
            session = SeqpacketSocket.connect(path, stepTimeout);
        } catch (NativeException e) {
            if (e.errno() == NativeException.ENOENT || e.errno() == ECONNREFUSED) {
                return null; // a stale socket: the proxy before this one is gone
            }
            throw e;
        }
        Takeover t = new Takeover(session, path);
        try {
            SeqpacketSocket.PeerCredentials who = session.peerCredentials();
            if (who.uid() != 0) {
                throw new IOException("the handover socket " + path + " is not root's (pid " + who.pid() + " uid "
                        + who.uid() + ")");
            }
            Handover.send(session, new HandoverMessage.Takeover());
        } catch (IOException | RuntimeException e) {
            t.fail(e);
            throw e;
        }
        return t;
    }

    /** Receives one message of the listeners' part; true once it was {@code listeners_done}. */
    private boolean receiveOne() throws IOException {
        Handover.Received r = Handover.receiveWithFds(session);
        HandoverMessage m = r.message();
        synchronized (this) {
            if (m instanceof HandoverMessage.ListenersDone done) {
                int received = receivedPods;
                if (done.pods() != received) {
                    throw new IOException("the old proxy announced " + done.pods() + " pod(s) and sent " + received);
                }
                complete = true;
                notifyAll();
                return true;
            }
            if (m instanceof HandoverMessage.ControlSocket control) {
                if (controlSocketFd >= 0) {
                    Descriptors.close(r.fds()[0]);
                    throw new IOException("the old proxy sent a second control socket");
                }
                controlSocketPath = control.path();
                controlSocketFd = r.fds()[0];
                return false;
            }
        }
        if (!(m instanceof HandoverMessage.Pod pod)) {
            for (int fd : r.fds()) {
                Descriptors.close(fd);
            }
            throw new IOException("expected a pod, got " + m);
        }
        InheritedPod inherited = inherit(pod, r.fds());
        synchronized (this) {
            if (closed) {
                inherited.close();
            } else {
                pods.put(pod.pod(), inherited);
                receivedPods++;
                notifyAll();
            }
        }
        return false;
    }

    private void logTaken() {
        int n;
        synchronized (this) {
            n = receivedPods;
        }
        log.info("taking over from {} (a proxy's handover socket, or the listener keeper): {} pod(s){}", path, n,
                controlSocketPath == null ? "" : " and the CNI control socket " + controlSocketPath);
    }

    /** Gives up: tells the peer why, closes the session and what came. */
    private void fail(Exception e) {
        giveUp(e);
        close();
    }

    /** Records why no more pods come (waiting claims return) and tells the peer; what came stays to be claimed. */
    private void giveUp(Exception e) {
        synchronized (this) {
            failure = e instanceof IOException io ? io : new IOException(e.toString(), e);
            notifyAll();
        }
        Handover.tryFail(session, e.getMessage() == null ? e.toString() : e.getMessage());
    }

    private static final int ECONNREFUSED = 111;

    /** Whether a proxy listens at {@code path} (without starting a takeover: the probe connects and leaves). */
    public static boolean someoneListens(Path path) {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (SeqpacketSocket probe = SeqpacketSocket.connect(path, Duration.ofSeconds(1))) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static InheritedPod inherit(HandoverMessage.Pod pod, int[] fds) throws IOException {
        NetworkNamespace netns;
        try {
            netns = NetworkNamespace.adopt(fds[0], "netns of pod " + pod.pod() + " (handed over)");
        } catch (IOException e) {
            for (int fd : fds) {
                Descriptors.close(fd);
            }
            throw e;
        }
        Map<Integer, Integer> listeners = new HashMap<>();
        for (int i = 0; i < pod.ports().size(); i++) {
            listeners.put(pod.ports().get(i), fds[i + 1]);
        }
        return new InheritedPod(pod.pod(), netns, listeners, pod.cni());
    }

    /**
     * The pods handed over and not claimed yet, by key, once all have come (a streamed takeover waits for them); the
     * caller must not keep the map.
     */
    public synchronized Map<String, InheritedPod> pods() {
        awaitAll();
        return pods;
    }

    /**
     * Takes pod {@code key}'s namespace and listeners (the caller then owns them), waiting while they may still come;
     * null when they did not come.
     */
    public synchronized InheritedPod claim(String key) {
        while (!pods.containsKey(key) && !complete && failure == null && !closed) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return pods.remove(key);
    }

    private void awaitAll() {
        while (!complete && failure == null && !closed) {
            try {
                wait();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /**
     * Takes the old proxy's CNI control socket (the caller owns the descriptor from then on) when it listens at
     * {@code path}, this proxy's own control socket path; -1 when none came or it listens elsewhere (then it is
     * closed with the session, and this proxy binds its own).
     */
    public synchronized int takeControlSocket(Path path) {
        awaitAll();
        if (controlSocketFd < 0) {
            return -1;
        }
        if (!controlSocketPath.equals(path.toAbsolutePath().normalize())) {
            log.warn("takeover: the old proxy's CNI control socket is {}, this proxy's is {}: not taken over",
                    controlSocketPath, path);
            return -1;
        }
        int fd = controlSocketFd;
        controlSocketFd = -1;
        return fd;
    }

    /** Tells the old proxy that this one accepts on the pods (and on the control socket it took), so it may stop. */
    public void accepting() throws IOException {
        synchronized (this) {
            awaitAll();
            if (failure != null) {
                throw new IOException("the pods did not all come (" + failure.getMessage() + "), so the session "
                        + "ended there", failure);
            }
        }
        Handover.send(session, new HandoverMessage.Accepting());
    }

    /**
     * Receives the relays the old proxy moves until it is done, each handed to {@code resume} (which owns its
     * descriptors from then on); returns how many came. A relay that arrives malformed is closed and counted as cut.
     */
    public int receiveRelays(Consumer<MovedConnection> resume) throws IOException {
        int received = 0;
        while (true) {
            HandoverMessage m;
            try {
                m = Handover.receive(session);
            } catch (Handover.Refused e) {
                if (e.descriptors == 2) {
                    cut++; // a relay refused: its sockets are closed, its connection cut
                    log.error("handover: refused a relay: {}", e.getMessage());
                    continue;
                }
                throw e;
            }
            switch (m) {
                case HandoverMessage.Relay relay -> {
                    received++;
                    resume.accept(relay.meta());
                }
                case HandoverMessage.Done done -> {
                    log.info("takeover done: {} relay(s) resumed here, {} connection(s) drain on the old proxy",
                            received, done.kept());
                    return received;
                }
                default -> throw new IOException("expected a relay or the end, got " + m);
            }
        }
    }

    /** Relays refused on arrival (their connections were cut). */
    public int cut() {
        return cut;
    }

    /** Ends the session and closes what no capture took (and the control socket if it was not taken). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true; // a capture waiting for its pod gets none; a receiving thread stops without a word
            notifyAll();
        }
        session.close(); // a receiving thread wakes up with the end of the stream
        Thread r = receiver;
        if (r != null && r != Thread.currentThread()) {
            try {
                r.join(TimeUnit.SECONDS.toMillis(5));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            pods.values().forEach(InheritedPod::close);
            pods.clear();
            if (controlSocketFd >= 0) {
                // close(2) only: the old proxy holds the same socket and accepts on it again if the takeover failed
                Descriptors.close(controlSocketFd);
                controlSocketFd = -1;
            }
        }
    }
}
