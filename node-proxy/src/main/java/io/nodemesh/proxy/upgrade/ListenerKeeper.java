package io.nodemesh.proxy.upgrade;

import io.nodemesh.linux.SeqpacketSocket;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This proxy's holding session with {@code nodemesh-keeper} (docs/upgrade.md, "A restart: the listener keeper"): the
 * keeper holds a duplicate of every captured pod's namespace and listening sockets, so that they go on listening
 * while the proxy is away (a crash, a container restart) and the next proxy takes them over from it
 * ({@link Takeover#stream} on the keeper's socket). The proxy keeps a pod once it is captured and forgets it before
 * it lets it go; a proxy that stops does not forget: that is the point.
 *
 * <p>Nothing here is on a data path; every call is on the proxy's control thread. A keeper that is not there, or
 * goes away, costs nothing but the warning: {@link #ensure} connects again and keeps every pod anew. Each command
 * waits up to 5 s for the keeper's answer.
 */
public final class ListenerKeeper implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(ListenerKeeper.class);
    private static final Duration STEP = Duration.ofSeconds(5);

    /** A pod as the keeper holds it: its key and what {@code PodCapture.handoverListeners} gives. */
    public record Kept(String key, HandoverSocket.Listeners listeners) {
    }

    /**
     * What the admin API shows: the keeper's socket, whether a holding session is open, how many pods it holds for
     * this proxy, and why there is no session (null when there is).
     */
    public record Status(Path socket, boolean holding, int pods, String problem) {
    }

    private final Path path;
    private final Set<String> kept = new HashSet<>();
    private SeqpacketSocket session;
    private boolean warned;
    private long keeps;
    private String problem = "not connected yet";

    public ListenerKeeper(Path path) {
        this.path = path.toAbsolutePath().normalize();
    }

    public synchronized Status status() {
        return new Status(path, session != null, kept.size(), problem);
    }

    /** How many keep commands the keeper accepted (for tests and the log). */
    public synchronized long keeps() {
        return keeps;
    }

    /**
     * Checks the holding session, and opens it again if there is none: {@code hold} (the keeper marks everything it
     * holds stale), keeps {@code pods}, then, when {@code sync}, {@code synced} (the keeper closes what was not kept).
     * Returns whether a session is open afterwards.
     *
     * @param sync false at a start, where the pods are kept as they are captured and {@link #synced} follows the
     *     first snapshot
     */
    public synchronized boolean ensure(Supplier<List<Kept>> pods, boolean sync) {
        if (session != null) {
            try {
                command("ping", new int[0]); // a keeper that went away shows here
                return true;
            } catch (IOException e) {
                lost(e);
            }
        }
        try {
            if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
                throw new IOException("no socket there");
            }
            session = SeqpacketSocket.connect(path, STEP);
            SeqpacketSocket.PeerCredentials who = session.peerCredentials();
            if (who.uid() != 0) {
                throw new IOException("the keeper's socket is not root's (pid " + who.pid() + " uid " + who.uid() + ")");
            }
            int held = Integer.parseInt(command("hold", new int[0]).substring(3));
            int kept = 0;
            this.kept.clear();
            for (Kept pod : pods.get()) {
                if (keepOrWarn(pod)) {
                    kept++;
                } else if (session == null) {
                    return false; // lost meanwhile, and said so
                }
            }
            String dropped = sync ? command("synced", new int[0]).substring(3) : "0";
            log.info("listener keeper at {}: holding; it held {} pod(s), {} kept now{}", path, held, kept,
                    sync ? ", " + dropped + " stale closed" : "");
            warned = false;
            problem = null;
            return true;
        } catch (IOException | RuntimeException e) {
            if (session != null) {
                session.close();
                session = null;
            }
            problem = e.getMessage() == null ? e.toString() : e.getMessage();
            if (!warned) {
                warned = true;
                log.warn("cannot hold the pods' listeners with the listener keeper at {} ({}): until it can, a restart "
                        + "of this proxy refuses the pods' new connections; trying again every 5 s", path,
                        e.getMessage());
            }
            return false;
        }
    }

    /** Keeps a pod (replacing what the keeper held for it); false, logged, when the keeper refused or is gone. */
    public synchronized boolean keep(Kept pod) {
        if (session == null) {
            return false;
        }
        return keepOrWarn(pod);
    }

    private boolean keepOrWarn(Kept pod) {
        HandoverMessage.Pod podMessage = pod.listeners().message(pod.key());
        int[] fds = pod.listeners().descriptors(podMessage);
        byte[] json = HandoverMessage.encode(podMessage);
        byte[] head = ("keep " + pod.key() + "\n").getBytes(StandardCharsets.UTF_8);
        byte[] message = new byte[head.length + json.length];
        System.arraycopy(head, 0, message, 0, head.length);
        System.arraycopy(json, 0, message, head.length, json.length);
        try {
            command(message, fds);
            keeps++;
            kept.add(pod.key());
            return true;
        } catch (KeeperRefused e) {
            log.error("listener keeper: pod {} not kept: {}", pod.key(), e.getMessage());
            return false;
        } catch (IOException e) {
            lost(e);
            return false;
        }
    }

    /** Forgets a pod: the keeper closes what it held for it. Before the pod's listeners close here. */
    public synchronized void forget(String key) {
        if (session == null) {
            return;
        }
        try {
            command("release " + key, new int[0]);
            kept.remove(key);
        } catch (IOException e) {
            lost(e);
        }
    }

    /** Tells the keeper that every pod this proxy captures was kept since the session began: it closes the rest. */
    public synchronized void synced() {
        if (session == null) {
            return;
        }
        try {
            String dropped = command("synced", new int[0]).substring(3);
            if (!dropped.equals("0")) {
                log.info("listener keeper: {} pod(s) it held are not captured here; it closed them", dropped);
            }
        } catch (IOException e) {
            lost(e);
        }
    }

    private void lost(IOException e) {
        log.warn("listener keeper at {}: the session ended ({}); connecting again", path, e.getMessage());
        warned = true;
        problem = e.getMessage();
        kept.clear();
        session.close();
        session = null;
    }

    /** The keeper said "error ...". */
    static final class KeeperRefused extends IOException {
        KeeperRefused(String message) {
            super(message);
        }
    }

    private String command(String text, int[] fds) throws IOException {
        return command(text.getBytes(StandardCharsets.UTF_8), fds);
    }

    private String command(byte[] message, int[] fds) throws IOException {
        session.send(message, fds);
        SeqpacketSocket.Received r = session.receive(1024, 0);
        if (r.endOfStream()) {
            throw new IOException("the keeper closed the session");
        }
        String answer = new String(r.data(), StandardCharsets.UTF_8);
        if (answer.startsWith("error ")) {
            throw new KeeperRefused(answer.substring(6));
        }
        if (!answer.equals("ok") && !answer.startsWith("ok ")) {
            throw new IOException("the keeper answered " + answer);
        }
        return answer.length() == 2 ? "ok 0" : answer;
    }

    /** Ends the holding session; the keeper holds on to everything it holds. */
    @Override
    public synchronized void close() {
        if (session != null) {
            session.close();
            session = null;
        }
    }
}
