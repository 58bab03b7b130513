package io.nodemesh.proxy.bench;

import io.nodemesh.proxy.NodeProxy;
import io.nodemesh.proxy.config.TransportKind;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;

/**
 * Runs a {@link NodeProxy} as its own process for the benchmark when the jar has no
 * {@code nodemesh proxy} command yet: the same composition root and data path, without a
 * telemetry sink (the benchmark runs no agent). Usage:
 * {@code ProxyProcess <config.yaml> <epoll|io_uring|nio> <workers> <admin-host:port>}; runs until
 * SIGTERM/SIGINT, then drains and stops.
 */
public final class ProxyProcess {

    private ProxyProcess() {
    }

    /** Starts the proxy and blocks until the process is asked to stop. */
    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: ProxyProcess <config.yaml> <epoll|io_uring|nio> <workers> <admin-host:port>");
            System.exit(2);
        }
        int colon = args[3].lastIndexOf(':');
        NodeProxy proxy = NodeProxy.builder()
                .configFile(Path.of(args[0]))
                .transport(TransportKind.parse(args[1]))
                .workers(Integer.parseInt(args[2]))
                .admin(new InetSocketAddress(args[3].substring(0, colon), Integer.parseInt(args[3].substring(colon + 1))))
                .removeRulesOnStop(true)
                .build();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> {
            proxy.close();
            stopped.countDown();
        }));
        proxy.start();
        System.out.println("proxy running, admin on " + proxy.adminAddress());
        stopped.await();
    }
}
