package io.nodemesh.bench.relay;

import io.netty.channel.IoEvent;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoRegistration;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoEvent;
import io.netty.channel.epoll.EpollIoHandle;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollIoOps;
import io.netty.channel.unix.FileDescriptor;
import io.netty.channel.unix.Socket;
import io.nodemesh.linux.OriginalDestination;
import io.nodemesh.linux.SocketOptions;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;

/**
 * Benchmark subject, not the proxy: a captured-connection relay driven below Netty's channel API, to measure what that
 * API costs the proxy per new connection (issue 23's churn goal). It runs where the proxy's listener would, inside the
 * pod's network namespace behind a REDIRECT, and does the proxy's per-connection work on the proxy's own event loop
 * (Netty's epoll {@link EpollIoHandler}): accept, the original destination ({@code SO_ORIGINAL_DST}), a new socket
 * marked so that the capture lets it through, TCP_NODELAY on both, the proxy's four keepalive options on the upstream
 * (with {@code --keepalive}), a non-blocking connect, then bytes both ways, FINs passed on as half-closes, a reset
 * passed on as a reset. What it leaves out of the proxy's work: entering the pod's namespace around {@code socket()}
 * (it already runs there), telemetry, timeouts, and everything a proxy does for its operator.
 *
 * <p>Each socket is one {@link EpollIoHandle} registered edge-triggered for reads, writes and the peer's FIN at once,
 * so it costs two {@code epoll_ctl} calls (Netty's registration adds it with no events, the ops are then set) and
 * none at the end (the descriptor is closed before the registration is cancelled, which the kernel's close does for
 * it). Reads go into one direct buffer per loop; what the peer does not take at once is copied aside and the reading
 * side waits for the peer's next write edge.
 *
 * <p>Usage, in the pod's namespace: {@code BareRelay --listen [::]:15001 --mark 1337 [--keepalive]}.
 */
public final class BareRelay {

    private static final int SOCKET_READY = EpollIoOps.EPOLLIN.value() | EpollIoOps.EPOLLOUT.value()
            | EpollIoOps.EPOLLRDHUP.value() | EpollIoOps.EPOLLET.value();
    private static final EpollIoOps SOCKET_OPS = EpollIoOps.valueOf(SOCKET_READY);
    private static final int BUFFER = 64 * 1024;

    private final IoEventLoop loop;
    private final int mark;
    private final boolean keepalive;
    /** The loop's one read buffer: a read is written on before the next one, or what is left is copied aside. */
    private final ByteBuffer scratch = ByteBuffer.allocateDirect(BUFFER);
    private final byte[] acceptedAddress = new byte[26];

    private BareRelay(IoEventLoop loop, int mark, boolean keepalive) {
        this.loop = loop;
        this.mark = mark;
        this.keepalive = keepalive;
    }

    public static void main(String[] args) throws Exception {
        InetSocketAddress listen = null;
        int mark = 1337;
        boolean keepalive = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--listen" -> listen = parse(args[++i]);
                case "--mark" -> mark = Integer.parseInt(args[++i]);
                case "--keepalive" -> keepalive = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        if (listen == null) {
            throw new IllegalArgumentException("--listen HOST:PORT is required");
        }
        MultiThreadIoEventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        IoEventLoop loop = (IoEventLoop) group.next();
        BareRelay relay = new BareRelay(loop, mark, keepalive);
        Socket listener = Socket.newSocketStream();
        listener.setReuseAddress(true);
        listener.bind(listen);
        listener.listen(4096);
        loop.register(relay.new Listener(listener)).sync().getNow().submit(EpollIoOps.EPOLLIN);
        System.out.println("bare relay listening on " + listen);
        new CountDownLatch(1).await();
    }

    private static InetSocketAddress parse(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        String host = hostPort.substring(0, colon).replace("[", "").replace("]", "");
        return new InetSocketAddress(host, Integer.parseInt(hostPort.substring(colon + 1)));
    }

    /** The capture listener: accepts until the backlog is empty, each connection then on its own. */
    private final class Listener implements EpollIoHandle {
        private final Socket socket;

        Listener(Socket socket) {
            this.socket = socket;
        }

        @Override
        public FileDescriptor fd() {
            return socket;
        }

        @Override
        public void handle(IoRegistration registration, IoEvent event) {
            for (;;) {
                int fd;
                try {
                    fd = socket.accept(acceptedAddress);
                } catch (IOException e) {
                    return;
                }
                if (fd < 0) {
                    return;
                }
                start(new Socket(fd));
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private void start(Socket down) {
        Socket up = null;
        try {
            down.setTcpNoDelay(true);
            InetSocketAddress destination = OriginalDestination.of(down.intValue(), false);
            up = Socket.newSocketStream();
            up.setTcpNoDelay(true);
            SocketOptions.setMark(up.intValue(), mark);
            if (keepalive) {
                SocketOptions.setKeepalive(up.intValue(), 180, 180, 9);
            }
            Pair pair = new Pair();
            pair.downstream = new Side(pair, down);
            pair.upstream = new Side(pair, up);
            pair.downstream.peer = pair.upstream;
            pair.upstream.peer = pair.downstream;
            pair.connected = up.connect(destination);
            pair.downstream.register();
            pair.upstream.register();
        } catch (IOException | RuntimeException e) {
            closeQuietly(down);
            if (up != null) {
                closeQuietly(up);
            }
        }
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    /** One connection: its two sides, whether the upstream's connect finished. */
    private static final class Pair {
        Side downstream;
        Side upstream;
        boolean connected;
        boolean closed;
    }

    /** One socket of a pair and what is waiting to be written to it. */
    private final class Side implements EpollIoHandle {
        final Pair pair;
        final Socket socket;
        Side peer;
        IoRegistration registration;
        /** Bytes read from the peer that this socket has not taken yet; null when none. */
        ByteBuffer pending;
        boolean inputEnded;
        boolean outputShut;

        Side(Pair pair, Socket socket) {
            this.pair = pair;
            this.socket = socket;
        }

        void register() {
            registration = loop.register(this).getNow();
            registration.submit(SOCKET_OPS);
        }

        @Override
        public FileDescriptor fd() {
            return socket;
        }

        @Override
        public void handle(IoRegistration reg, IoEvent event) {
            if (pair.closed) {
                return;
            }
            EpollIoOps ops = ((EpollIoEvent) event).ops();
            try {
                if (ops.contains(EpollIoOps.EPOLLOUT) || ops.contains(EpollIoOps.EPOLLERR)) {
                    if (this == pair.upstream && !pair.connected) {
                        if (!socket.finishConnect()) {
                            return;
                        }
                        pair.connected = true;
                        // Both sides may have data or a FIN waiting that arrived while connecting.
                        peer.pump(true);
                        pump(true);
                        return;
                    }
                    if (pending != null && !flushPending()) {
                        return;
                    }
                }
                if (pair.connected && (ops.contains(EpollIoOps.EPOLLIN) || ops.contains(EpollIoOps.EPOLLRDHUP))) {
                    pump(ops.contains(EpollIoOps.EPOLLRDHUP));
                }
            } catch (IOException e) {
                reset();
            }
        }

        /**
         * Moves what this socket has to its peer, until it has nothing or the peer takes no more. A short read ends it
         * unless {@code untilEmpty}: the peer's FIN came with this edge (or one was missed while paused), so the read
         * that sees it must come now, no other edge announcing it.
         */
        void pump(boolean untilEmpty) throws IOException {
            while (!inputEnded && peer.pending == null) {
                scratch.clear();
                int n = socket.recv(scratch, 0, BUFFER);
                if (n == 0) {
                    return; // EAGAIN: the next edge brings more
                }
                if (n < 0) {
                    inputEnded = true;
                    peer.shutOutput();
                    return;
                }
                int written = peer.socket.send(scratch, 0, n);
                if (written < n) {
                    ByteBuffer rest = ByteBuffer.allocate(n - written);
                    scratch.limit(n).position(written);
                    rest.put(scratch).flip();
                    peer.pending = rest;
                    return;
                }
                if (n < BUFFER && !untilEmpty) {
                    return; // a short read drained the socket; an edge comes with the next bytes
                }
            }
        }

        /** Writes what was copied aside; true once all of it is out (then the peer reads again). */
        boolean flushPending() throws IOException {
            ByteBuffer direct = scratch;
            direct.clear();
            direct.put(pending.duplicate()).flip();
            int written = socket.send(direct, 0, direct.limit());
            pending.position(pending.position() + written);
            if (pending.hasRemaining()) {
                return false;
            }
            pending = null;
            if (peer.inputEnded) {
                shutOutput();
            } else {
                peer.pump(true);
            }
            return true;
        }

        void shutOutput() throws IOException {
            if (pending != null) {
                return; // flushPending sends the FIN once the rest is out
            }
            outputShut = true;
            if (peer.outputShut) {
                closePair(pair);
                return;
            }
            socket.shutdown(false, true);
        }

        void reset() {
            try {
                peer.socket.setSoLinger(0);
            } catch (IOException ignored) {
                // the close below still ends it
            }
            closePair(pair);
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static void closePair(Pair pair) {
        if (pair.closed) {
            return;
        }
        pair.closed = true;
        close(pair.downstream);
        close(pair.upstream);
    }

    private static void close(Side side) {
        closeQuietly(side.socket);
        // Closed first: the registration then leaves epoll with the descriptor, no EPOLL_CTL_DEL.
        if (side.registration != null) {
            side.registration.cancel();
        }
    }
}
