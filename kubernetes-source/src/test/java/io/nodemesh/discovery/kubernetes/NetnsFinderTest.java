package io.nodemesh.discovery.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.inpod.NetnsScanner;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Netns;
import java.net.InetAddress;
import java.security.SecureRandom;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The production finder ({@link NetnsFinder#scanning}) over this host's real namespaces, and its look ahead: a scan
 * taken before the pods are known answers for the namespaces that are still the ones it saw, and a new scan finds
 * what changed since.
 */
class NetnsFinderTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    /** Addresses of this run only (10.224-239.x.y): another test JVM's pods must not make them ambiguous. */
    private static final int RUN = new SecureRandom().nextInt(0x10_0000);
    private static final AtomicInteger NEXT = new AtomicInteger(1);

    private final NetnsFinder finder = NetnsFinder.scanning(new NetnsScanner());

    @Test
    void aLookAheadAnswersForWhatItSawAndLooksAgainForWhatChangedSince() {
        Netns stays = net.namespace("stays");
        InetAddress staying = address(stays);
        Netns replaced = net.namespace("replaced");
        InetAddress moving = address(replaced);

        NetnsFinder ahead = finder.lookAhead();

        // After the look: a pod started (a new namespace), and a pod replaced by one with the same address elsewhere.
        Netns started = net.namespace("started");
        InetAddress late = address(started);
        Commands.run("ip", "netns", "del", replaced.name()).requireOk();
        Netns successor = net.namespace("successor");
        add(successor, moving);

        Map<InetAddress, java.nio.file.Path> found = ahead.find(List.of(staying, moving, late, next()));

        assertThat(found).isEqualTo(Map.of(staying, stays.path(), moving, successor.path(), late, started.path()));
        assertThat(finder.find(List.of(staying, moving, late))).isEqualTo(found);
    }

    @Test
    void withoutALookAheadAFinderIsItsOwn() {
        NetnsFinder plain = addresses -> Map.of();
        assertThat(plain.lookAhead()).isSameAs(plain);
        assertThat(NetnsFinder.NONE.lookAhead()).isSameAs(NetnsFinder.NONE);
    }

    private static InetAddress address(Netns ns) {
        InetAddress a = next();
        add(ns, a);
        return a;
    }

    private static InetAddress next() {
        int n = RUN + NEXT.getAndIncrement();
        return InetAddress.ofLiteral("10." + (224 + (n >> 16 & 0xf)) + "." + (n >> 8 & 0xff) + "." + (n % 254 + 1));
    }

    private static void add(Netns ns, InetAddress address) {
        ns.execOk("ip", "addr", "add", address.getHostAddress() + "/32", "dev", "lo");
    }
}
