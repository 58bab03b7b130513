package io.nodemesh.proxy.handoff;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nodemesh.linux.Descriptors;
import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.linux.SeqpacketSocket;
import io.nodemesh.linux.UnixSocketFile;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
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
 */
public final class ControlSocket implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ControlSocket.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Room for one descriptor more than any request may carry, so that a second one is seen (and refused). */
    private static final int MAX_FDS = 2;

    private final Path path;
    private final PodHandoff handoff;
    private final SeqpacketSocket listener;
    private final Duration receiveTimeout;
    private final Duration answerTimeout;
    private final Thread acceptor;
    private final Map<String, AtomicLong> refusals = new ConcurrentHashMap<>();
    private final AtomicLong requests = new AtomicLong();
    private volatile boolean closed;

    private ControlSocket(Path path, PodHandoff handoff, SeqpacketSocket listener, Duration receiveTimeout,
            Duration answerTimeout) {
        this.path = path;
        this.handoff = handoff;
        this.listener = listener;
        this.receiveTimeout = receiveTimeout;
        this.answerTimeout = answerTimeout;
        this.acceptor = Thread.ofPlatform().name("nodemesh-cni-control").daemon(true).unstarted(this::acceptLoop);
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
        socket.acceptor.start();
        log.info("CNI control socket on {}", path);
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

    private void acceptLoop() {
        while (!closed) {
            SeqpacketSocket peer;
            try {
                peer = listener.accept();
            } catch (IOException e) {
                if (!closed) {
                    log.error("CNI control socket {}: accept failed, no more pods are handed over: {}", path,
                            e.getMessage());
                }
                return;
            }
            // A platform thread: adopting the namespace enters it once, which a virtual thread must not do.
            Thread.ofPlatform().name("nodemesh-cni-request").daemon(true).start(() -> serve(peer));
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
            Thread.currentThread().interrupt();
            return PodHandoff.Reply.error(11, "the nodemesh proxy is shutting down");
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
        closed = true;
        listener.close();
        try {
            acceptor.join(2_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        UnixSocketFile.remove(path);
    }
}
