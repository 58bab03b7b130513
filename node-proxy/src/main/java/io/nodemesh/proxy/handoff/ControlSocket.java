package io.nodemesh.proxy.handoff;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.NativeException;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.SeqpacketSocket;
import io.nodemesh.linux.UnixSocketFile;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's control socket: where the CNI plugin hands over each pod (docs/cni.md). An {@code AF_UNIX}
 * {@code SOCK_SEQPACKET} socket, owner-only, one request and one answer per connection, each connection on its own
 * thread (an ADD waits for its pod's capture; other pods must not wait behind it).
 *
 * <p>Before anything is acted on: the peer must be root ({@code SO_PEERCRED}); the datagram at most
 * {@link HandoffRequest#MAX_BYTES} and not truncated; an ADD carries exactly one descriptor, a network namespace
 * ({@code NS_GET_NSTYPE}), anything else none; every field validates. A refusal closes every descriptor received, is
 * answered when the peer can be answered, logged and counted by reason.
 *
 * <p>In an upgrade (docs/upgrade.md) the listening socket itself moves to the new proxy, so that its file never
 * disappears and no plugin call is refused: the old proxy {@link #stopAccepting() stops accepting} (connections wait in
 * the backlog), passes a {@link #duplicate() duplicate} on, and then either {@link #release() lets go} or, when the
 * takeover fails, {@link #resumeAccepting() accepts again}; the new proxy {@link #adopt adopts} it. The socket is
 * shared meanwhile, so nobody may {@code shutdown} it: the acceptor looks up from {@code accept} every
 * {@link #ACCEPT_WAKEUP} ({@code SO_RCVTIMEO}) to see whether to stop, and the descriptor is closed only once it has.
 */
public final class ControlSocket implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ControlSocket.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Room for one descriptor more than any request may carry, so that a second one is seen (and refused). */
    private static final int MAX_FDS = 2;
    /** How long the acceptor may sit in {@code accept} before it looks whether it should stop. */
    private static final Duration ACCEPT_WAKEUP = Duration.ofMillis(100);
    /** How long {@link #stopAccepting} lets accepted requests be answered before it fails the rest (try again). */
    private static final Duration SETTLE = Duration.ofSeconds(2);
    private static final String SHUTTING_DOWN = "the nodemesh proxy is shutting down";

    private final Path path;
    private final PodHandoff handoff;
    private final SeqpacketSocket listener;
    private final Duration receiveTimeout;
    private final Duration answerTimeout;
    private final Map<String, AtomicLong> refusals = new ConcurrentHashMap<>();
    private final AtomicLong requests = new AtomicLong();
    /** The threads answering a request (they remove themselves). */
    private final Set<Thread> serving = ConcurrentHashMap.newKeySet();
    /** The accepting thread while there is one; changed only under {@code this}. */
    private Thread acceptor;
    private volatile boolean accepting;
    private volatile boolean closed;
    /** What a request whose wait is cut short is answered (code 11, try again). */
    private volatile String cutShort = SHUTTING_DOWN;

    private ControlSocket(Path path, PodHandoff handoff, SeqpacketSocket listener, Duration receiveTimeout,
            Duration answerTimeout) {
        this.path = path;
        this.handoff = handoff;
        this.listener = listener;
        this.receiveTimeout = receiveTimeout;
        this.answerTimeout = answerTimeout;
    }

    /**
     * Binds {@code path} (its directory made, a stale socket replaced, a live one refused; mode 0600) and starts
     * accepting.
     *
     * @param answerTimeout how long a connection may wait for {@code handoff}'s answer (beyond it: try again)
     */
    public static ControlSocket start(Path path, PodHandoff handoff, Duration answerTimeout) throws IOException {
        UnixSocketFile.prepare(path, "another nodemesh proxy already listens on its control socket " + path);
        SeqpacketSocket listener = SeqpacketSocket.listen(path, 64);
        ControlSocket socket = new ControlSocket(path, handoff, listener, Duration.ofSeconds(5), answerTimeout);
        try {
            socket.startAccepting();
        } catch (IOException e) {
            listener.close();
            UnixSocketFile.remove(path);
            throw e;
        }
        log.info("CNI control socket on {}", path);
        return socket;
    }

    /**
     * Serves the control socket the proxy before this one listened on at {@code path}, handed over as {@code fd} (a
     * listening {@code SOCK_SEQPACKET} socket, now this one's): the same socket and file, with the connections
     * waiting in its backlog, so a plugin call made during the switch is answered here.
     *
     * @throws IOException when {@code fd} is no such socket (it is closed then)
     */
    public static ControlSocket adopt(int fd, Path path, PodHandoff handoff, Duration answerTimeout)
            throws IOException {
        SeqpacketSocket listener = SeqpacketSocket.adopt(fd, "seqpacket socket " + path);
        ControlSocket socket = new ControlSocket(path, handoff, listener, Duration.ofSeconds(5), answerTimeout);
        try {
            socket.startAccepting();
        } catch (IOException e) {
            listener.close();
            throw e;
        }
        log.info("CNI control socket on {}, taken over from the proxy before this one", path);
        return socket;
    }

    /** Where it listens. */
    public Path path() {
        return path;
    }

    /** Requests answered (refusals included). */
    public long requests() {
        return requests.get();
    }

    /** Refused requests by reason ({@code not_root}, {@code too_large}, {@code descriptors}, {@code not_netns}, …). */
    public Map<String, Long> refusals() {
        Map<String, Long> out = new java.util.TreeMap<>();
        refusals.forEach((k, v) -> out.put(k, v.get()));
        return out;
    }

    /**
     * Stops accepting, for a handover: the socket keeps listening (new connections wait in its backlog) and nothing
     * is shut down, so whoever holds it next accepts them. Requests already accepted are answered here; those still
     * waiting for their answer after {@link #SETTLE} are answered with code 11 (try again), which the runtime retries
     * against whichever proxy then serves the socket.
     */
    public void stopAccepting() {
        joinAcceptor();
        long deadline = System.nanoTime() + SETTLE.toNanos();
        for (Thread t : List.copyOf(serving)) {
            joinUntil(t, deadline);
        }
        List<Thread> late = List.copyOf(serving);
        if (!late.isEmpty()) {
            cutShort = "the nodemesh proxy is being replaced; try again";
            log.warn("CNI control socket: {} request(s) not answered within {} ms of the handover are told to try "
                    + "again", late.size(), SETTLE.toMillis());
            late.forEach(Thread::interrupt);
            long answered = System.nanoTime() + 1_000_000_000L;
            for (Thread t : late) {
                joinUntil(t, answered);
            }
        }
    }

    /** A takeover that failed: accepts again (the socket never stopped listening, and its file never went). */
    public synchronized void resumeAccepting() throws IOException {
        if (closed || accepting) {
            return;
        }
        cutShort = SHUTTING_DOWN;
        startAccepting();
        log.info("CNI control socket {}: accepting again", path);
    }

    /** A descriptor of the listening socket (the caller's to close), to hand it over. */
    public int duplicate() throws IOException {
        return listener.duplicate();
    }

    /**
     * After a handover: stops accepting and closes this proxy's descriptor of the socket, with no {@code shutdown},
     * and leaves the file: the socket listens on in the proxy that adopted it.
     */
    public void release() {
        if (closed) {
            return;
        }
        closed = true;
        if (joinAcceptor()) {
            listener.close(); // no call in flight: close(2), which leaves the socket to its other holder
        } else {
            // Closing under a blocked accept would shut the socket down for the new proxy too: leave the descriptor.
            log.error("CNI control socket {}: the accepting thread did not stop; its descriptor stays open", path);
        }
    }

    private synchronized void startAccepting() throws IOException {
        listener.timeouts(ACCEPT_WAKEUP); // accept(2) returns EAGAIN when it runs out: time to look at `accepting`
        accepting = true;
        acceptor = Thread.ofPlatform().name("nodemesh-cni-control").daemon(true).start(this::acceptLoop);
    }

    /** Stops the accepting thread; true once it is out of {@code accept} (within {@link #ACCEPT_WAKEUP}). */
    private synchronized boolean joinAcceptor() {
        accepting = false;
        Thread t = acceptor;
        if (t == null) {
            return true;
        }
        try {
            t.join(ACCEPT_WAKEUP.toMillis() * 50);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (t.isAlive()) {
            return false;
        }
        acceptor = null;
        return true;
    }

    private static void joinUntil(Thread t, long deadlineNanos) {
        try {
            t.join(Duration.ofNanos(Math.max(1, deadlineNanos - System.nanoTime())));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void acceptLoop() {
        while (accepting) {
            SeqpacketSocket peer;
            try {
                peer = listener.accept();
            } catch (NativeException e) {
                if (e.errno() == NativeException.EAGAIN) {
                    continue; // the wake-up: nobody came
                }
                acceptFailed(e);
                return;
            } catch (IOException e) {
                acceptFailed(e);
                return;
            }
            // Accepted, so answered, even when the proxy stops accepting meanwhile (stopAccepting waits for it).
            // A platform thread: adopting the namespace enters it once, which a virtual thread must not do.
            Thread request = Thread.ofPlatform().name("nodemesh-cni-request").daemon(true).unstarted(() -> {
                try {
                    serve(peer);
                } finally {
                    serving.remove(Thread.currentThread());
                }
            });
            serving.add(request);
            request.start();
        }
    }

    private void acceptFailed(IOException e) {
        if (accepting && !closed) {
            accepting = false;
            log.error("CNI control socket {}: accept failed, no more pods are handed over: {}", path, e.getMessage());
        }
    }

    private void serve(SeqpacketSocket peer) {
        try (peer) {
            requests.incrementAndGet();
            SeqpacketSocket.PeerCredentials who = peer.peerCredentials();
            peer.timeouts(receiveTimeout);
            SeqpacketSocket.Received received = peer.receive(HandoffRequest.MAX_BYTES, MAX_FDS);
            if (received.endOfStream()) {
                closeAll(received.fds());
                return;
            }
            Object answer = answer(who, received);
            peer.send(answer instanceof PodHandoff.Reply r ? encode(r) : encode((Refusal) answer));
        } catch (IOException e) {
            log.debug("CNI control socket: a request failed: {}", e.getMessage());
        } catch (RuntimeException e) {
            // The proxy stopping under a request (its control thread gone): the plugin sees the connection close.
            log.warn("CNI control socket: a request was not answered: {}", e.toString());
        }
    }

    /** The reply, or a {@link Refusal}; never leaves a received descriptor open unless handed to {@link PodHandoff}. */
    private Object answer(SeqpacketSocket.PeerCredentials who, SeqpacketSocket.Received received) {
        int[] fds = received.fds();
        if (who.uid() != 0) {
            closeAll(fds);
            return refuse("not_root", "the control socket serves root only (peer pid " + who.pid() + " uid "
                    + who.uid() + ")");
        }
        if (received.truncated()) {
            closeAll(fds);
            return refuse("too_large", "request larger than " + HandoffRequest.MAX_BYTES + " bytes");
        }
        if (received.controlTruncated() || fds.length > 1) {
            closeAll(fds);
            return refuse("descriptors", "a request carries at most one descriptor (got "
                    + (received.controlTruncated() ? "more than " + MAX_FDS : fds.length) + ")");
        }
        HandoffRequest request;
        try {
            request = HandoffRequest.parse(received.data());
        } catch (HandoffException e) {
            closeAll(fds);
            return refuse("invalid", e.getMessage());
        }
        boolean add = request.command().equals("ADD");
        if (add != (fds.length == 1)) {
            closeAll(fds);
            return refuse("descriptors", add ? "an ADD carries the pod's network namespace as one descriptor, got none"
                    : "a " + request.command() + " carries no descriptor");
        }
        CompletableFuture<PodHandoff.Reply> reply;
        switch (request.command()) {
            case "ADD" -> {
                NetworkNamespace netns;
                try {
                    netns = NetworkNamespace.adopt(fds[0], "netns of pod " + request.key() + " ("
                            + request.netnsPath() + ")");
                } catch (IOException e) {
                    closeAll(fds);
                    return refuse("not_netns", "the descriptor sent with the ADD of pod " + request.key()
                            + " is not a usable network namespace: " + e.getMessage());
                }
                reply = handoff.add(request, netns);
            }
            case "DEL" -> reply = handoff.delete(request);
            default -> reply = handoff.check(request);
        }
        try {
            return reply.get(answerTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            return PodHandoff.Reply.error(11, "the nodemesh proxy did not answer the " + request.command()
                    + " of pod " + request.key() + " within " + answerTimeout.toSeconds() + " s");
        } catch (ExecutionException e) {
            return PodHandoff.Reply.error(110, "the nodemesh proxy failed on the " + request.command() + " of pod "
                    + request.key() + ": " + e.getCause());
        } catch (InterruptedException e) {
            // Cut short: the proxy stops, or hands the socket over (stopAccepting).
            Thread.currentThread().interrupt();
            return PodHandoff.Reply.error(11, cutShort);
        }
    }

    private record Refusal(String reason, String message) {}

    private Refusal refuse(String reason, String message) {
        refusals.computeIfAbsent(reason, r -> new AtomicLong()).incrementAndGet();
        log.warn("CNI control socket: refused ({}): {}", reason, message);
        return new Refusal(reason, message);
    }

    private static void closeAll(int[] fds) {
        for (int fd : fds) {
            Descriptors.close(fd);
        }
    }

    private static byte[] encode(PodHandoff.Reply reply) {
        ObjectNode out = JSON.createObjectNode();
        out.put("ok", reply.ok());
        if (reply.ok()) {
            out.put("state", reply.state());
            if (!reply.detail().isEmpty()) {
                out.put("detail", reply.detail());
            }
        } else {
            out.put("code", reply.code());
            out.put("error", reply.detail());
        }
        return out.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }

    private static byte[] encode(Refusal refusal) {
        return encode(PodHandoff.Reply.error(110, "refused by the nodemesh proxy (" + refusal.reason() + "): "
                + refusal.message()));
    }

    /** Stops accepting and removes the socket file; requests being answered finish on their own threads. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        joinAcceptor();
        listener.close(); // a shutdown too, if the acceptor is somehow still in accept: this proxy is its only holder
        UnixSocketFile.remove(path);
    }
}
