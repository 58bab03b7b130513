package io.nodemesh.testing;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.linux.OriginalDestination;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Lan;
import io.nodemesh.topology.Netns;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class NetnsExtensionTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    private static String madeByLastTest;

    @Test
    void podsOnOneLanTalkOverRealSocketsInsideTheirNamespaces() throws Exception {
        Lan lan = net.lan("node");
        Netns a = lan.attach("a", "10.77.0.2/24", "fd77::2/64");
        Netns b = lan.attach("b", "10.77.0.3/24", "fd77::3/64");
        madeByLastTest = a.name();

        ServerSocket server = b.call(() -> new ServerSocket(7000, 50, b.ipv4()));
        try (server) {
            Future<String> echoed = b.executor().submit(() -> {
                try (Socket s = server.accept()) {
                    byte[] line = s.getInputStream().readNBytes(5);
                    s.getOutputStream().write(line);
                    return new String(line, StandardCharsets.US_ASCII);
                }
            });
            try (Socket client = a.call(() -> new Socket(b.ipv4(), 7000))) {
                OutputStream out = client.getOutputStream();
                out.write("hello".getBytes(StandardCharsets.US_ASCII));
                InputStream in = client.getInputStream();
                assertThat(new String(in.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("hello");
            }
            assertThat(echoed.get()).isEqualTo("hello");
        }
        // The bridge lives in the node namespace, not on the host.
        assertThat(lan.node().execOk("ip", "link", "show", "br0").stdout()).contains("br0");
        assertThat(a.execOk("ip", "-6", "addr", "show", "dev", "eth0").stdout()).contains("fd77::2");
    }

    @Test
    void originalDestinationComesBackThroughARealRedirect() throws Exception {
        Netns ns = net.namespace("redir");
        ns.execOk("ip", "addr", "add", "10.77.9.1/24", "dev", "lo");
        ns.execOk("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-d", "10.77.9.99", "--dport", "8080",
                "-j", "REDIRECT", "--to-ports", "15001");
        ns.execOk("ip", "route", "add", "10.77.9.99/32", "dev", "lo");
        try (ServerSocket listener = ns.call(() -> new ServerSocket(15001))) {
            Future<Void> connect = ns.executor().submit(() -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("10.77.9.99", 8080), 5000);
                    s.getInputStream().read();
                }
                return null;
            });
            try (Socket accepted = listener.accept()) {
                int fd = ns.call(() -> fdOf(accepted));
                InetSocketAddress original = OriginalDestination.of(fd, false);
                assertThat(original).isEqualTo(new InetSocketAddress("10.77.9.99", 8080));
            }
            connect.get();
        }
    }

    @AfterAll
    static void everythingMadeIsGone() {
        assertThat(Commands.run("ip", "netns", "list").stdout()).doesNotContain(madeByLastTest);
    }

    /** The kernel fd behind a java.net.Socket, for the native call (tests only). */
    private static int fdOf(Socket socket) throws Exception {
        // Match the connection's ports in this thread's namespace's socket table to find its inode.
        String hexPort = String.format("%04X", socket.getLocalPort());
        String remoteHexPort = String.format("%04X", socket.getPort());
        String inode = null;
        for (String table : new String[] {"tcp", "tcp6"}) {
            for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/thread-self/net/" + table))) {
                String[] f = line.trim().split("\\s+");
                if (f.length > 9 && f[1].endsWith(":" + hexPort) && f[2].endsWith(":" + remoteHexPort)) {
                    inode = f[9];
                }
            }
        }
        assertThat(inode).as("socket inode").isNotNull();
        try (var fds = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/fd"))) {
            for (var fd : fds.toList()) {
                try {
                    if (java.nio.file.Files.readSymbolicLink(fd).toString().equals("socket:[" + inode + "]")) {
                        return Integer.parseInt(fd.getFileName().toString());
                    }
                } catch (java.io.IOException ignored) {
                    // fd closed meanwhile
                }
            }
        }
        throw new AssertionError("no fd for socket inode " + inode);
    }
}
