package io.nodemesh.proxy.inpod;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.linux.NetworkNamespace;
import io.nodemesh.proxy.inpod.NetnsScanner.Ambiguity;
import io.nodemesh.proxy.inpod.NetnsScanner.Result;
import io.nodemesh.testing.NetnsExtension;
import io.nodemesh.topology.Commands;
import io.nodemesh.topology.Netns;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Finding a running pod's namespace by its address, among the real namespaces of this host: bind-mounted ones
 * ({@code ip netns add}) and ones that only a process holds ({@code unshare --net}).
 */
class NetnsScannerTest {

    @RegisterExtension
    static final NetnsExtension net = new NetnsExtension();

    /**
     * Addresses of this run only (other test JVMs on the machine make pods too, and a shared address would be
     * ambiguous): 10.240-255.x.y/32 and fd6e:6d00:xxxx::y/128.
     */
    private static final int RUN = new SecureRandom().nextInt(0x10_0000);
    private static final AtomicInteger NEXT = new AtomicInteger(1);

    private final NetnsScanner scanner = new NetnsScanner();
    private final List<Process> loners = new ArrayList<>();

    @AfterEach
    void killLoners() throws InterruptedException {
        for (Process p : loners) {
            p.destroyForcibly();
        }
        for (Process p : loners) {
            p.waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void aBindMountedNamespaceIsFoundByItsIpv4AndIpv6AddressUnderItsBindMount() throws Exception {
        Netns pod = net.namespace("pod");
        InetAddress v4 = ipv4();
        InetAddress v6 = ipv6();
        add(pod, v4);
        add(pod, v6);

        Result result = scanner.scan();

        assertThat(result.find(v4)).contains(pod.path());
        assertThat(result.find(v6)).contains(pod.path());
        assertThat(pod.path()).startsWith(Path.of("/var/run/netns"));
        assertThat(result.findAll(List.of(v4, v6, ipv4()))).isEqualTo(Map.of(v4, pod.path(), v6, pod.path()));
        assertThat(result.byAddress()).doesNotContainKeys(InetAddress.getLoopbackAddress(), InetAddress.ofLiteral("::1"));
        assertThat(result.byAddress().keySet()).noneMatch(a -> a.isLinkLocalAddress() || a.isLoopbackAddress());
        System.out.println(result);
    }

    @Test
    void manyNamespacesAreEachFoundUnderTheirOwnPath() throws Exception {
        // The scan thread enters one namespace after another: each address must come back with its own namespace.
        Map<InetAddress, Path> made = new java.util.LinkedHashMap<>();
        for (int i = 0; i < 40; i++) {
            Netns pod = net.namespace("many" + i);
            InetAddress v4 = ipv4();
            add(pod, v4);
            made.put(v4, pod.path());
        }
        long pid = loner();
        InetAddress held = ipv4();
        add(pid, held);
        made.put(held, Path.of("/proc", String.valueOf(pid), "ns/net"));

        Result result = scanner.scan();

        assertThat(result.findAll(made.keySet())).isEqualTo(made);
        assertThat(result.ambiguities()).noneMatch(a -> made.containsKey(a.address()));
        System.out.println(result);
    }

    @Test
    void aPathStillNamesItsNamespaceUntilTheNamespaceIsReplacedOrGone() throws Exception {
        Netns pod = net.namespace("pod");
        InetAddress mounted = ipv4();
        add(pod, mounted);
        long pid = loner();
        InetAddress held = ipv4();
        add(pid, held);
        Result result = scanner.scan();
        Path bindMount = result.find(mounted).orElseThrow();
        Path process = result.find(held).orElseThrow();
        assertThat(result.stillNames(bindMount)).isTrue();
        assertThat(result.stillNames(process)).isTrue();
        assertThat(result.stillNames(Path.of("/var/run/netns/" + pod.name() + "-never-scanned"))).isFalse();

        // Another namespace mounted under the same name (a pod deleted, a new one's sandbox): not the one scanned.
        Commands.run("ip", "netns", "del", pod.name()).requireOk();
        Commands.run("ip", "netns", "add", pod.name()).requireOk();
        assertThat(result.stillNames(bindMount)).isFalse();
        // The process exited: its path names nothing (or, its pid taken, another process's namespace).
        ProcessHandle.of(pid).orElseThrow().destroyForcibly();
        ProcessHandle.of(pid).ifPresent(h -> h.onExit().join());
        for (Process p : loners) {
            p.waitFor(10, TimeUnit.SECONDS);
        }
        assertThat(result.stillNames(process)).isFalse();
    }

    @Test
    void aNamespaceOnlyAProcessHoldsIsFoundThroughTheProcessAndIsThatNamespace() throws Exception {
        long pid = loner();
        InetAddress v4 = ipv4();
        InetAddress v6 = ipv6();
        add(pid, v4);
        add(pid, v6);

        Path found = scanner.find(v4).orElseThrow();

        assertThat(found).isEqualTo(Path.of("/proc/" + pid + "/ns/net"));
        assertThat(scanner.find(v6)).contains(found);
        try (NetworkNamespace ns = NetworkNamespace.open(found)) {
            long inside = ns.call(() -> inode(Path.of("/proc/thread-self/ns/net")));
            assertThat(inside).isEqualTo(inode(Path.of("/proc/" + pid + "/ns/net")))
                    .isNotEqualTo(inode(Path.of("/proc/self/ns/net")));
        }
    }

    @Test
    void aNamespaceWithTwoProcessesIsReportedOnce() throws Exception {
        // Two processes and no bind mount: one path of the two, and the address is not ambiguous with itself.
        long first = loner();
        long second = spawnIn(first);
        InetAddress loneAddress = ipv4();
        add(first, loneAddress);
        // Two processes in a bind-mounted namespace: the bind mount's path.
        Netns pod = net.namespace("pod");
        pod.spawn("sleep", "300");
        pod.spawn("sleep", "300");
        InetAddress podAddress = ipv4();
        add(pod, podAddress);
        awaitProcessesIn(pod.path(), 2);

        Result result = scanner.scan();

        assertThat(result.find(loneAddress)).get()
                .isIn(Path.of("/proc/" + first + "/ns/net"), Path.of("/proc/" + second + "/ns/net"));
        assertThat(result.find(podAddress)).contains(pod.path());
        assertThat(result.ambiguities()).extracting(Ambiguity::address).doesNotContain(loneAddress, podAddress);
    }

    @Test
    void anAddressInTwoNamespacesIsAmbiguousAndNotHandedOut() throws Exception {
        Netns a = net.namespace("a");
        Netns b = net.namespace("b");
        long c = loner();
        InetAddress twice = ipv4();
        InetAddress thrice = ipv6();
        add(a, twice);
        add(b, twice);
        add(a, thrice);
        add(b, thrice);
        add(c, thrice);

        Result result = scanner.scan();

        assertThat(result.find(twice)).isEmpty();
        assertThat(result.find(thrice)).isEmpty();
        assertThat(result.findAll(List.of(twice, thrice))).isEmpty();
        assertThat(result.ambiguities()).filteredOn(x -> x.address().equals(twice)).singleElement()
                .satisfies(x -> assertThat(x.namespaces()).containsExactlyInAnyOrder(a.path(), b.path()));
        assertThat(result.ambiguities()).filteredOn(x -> x.address().equals(thrice)).singleElement()
                .satisfies(x -> assertThat(x.namespaces())
                        .containsExactlyInAnyOrder(a.path(), b.path(), Path.of("/proc/" + c + "/ns/net")));
    }

    @Test
    void anAddressNobodyHasIsNotFound() throws Exception {
        Netns pod = net.namespace("pod");
        add(pod, ipv4());
        InetAddress nobody = ipv4();

        Result result = scanner.scan();

        assertThat(result.find(nobody)).isEmpty();
        assertThat(result.ambiguities()).extracting(Ambiguity::address).doesNotContain(nobody);
        assertThat(scanner.find(nobody)).isEmpty();
    }

    @Test
    void processesThatExitBeforeOrDuringTheScanDoNotBreakIt() throws Exception {
        long pid = loner();
        InetAddress stays = ipv4();
        add(pid, stays);
        long gone = loner();
        add(gone, ipv4());
        loners.getLast().destroyForcibly().waitFor(10, TimeUnit.SECONDS);

        // Namespaces that come and go, each with an address, while scanning: some are listed and gone before they
        // are read.
        AtomicBoolean churn = new AtomicBoolean(true);
        AtomicInteger churned = new AtomicInteger();
        Thread churner = Thread.ofPlatform().name("netns-churn").start(() -> {
            while (churn.get()) {
                Commands.run("unshare", "--net", "--", "sh", "-c", "ip addr add " + cidr(ipv4()) + " dev lo; sleep 0.005");
                churned.incrementAndGet();
            }
        });
        try {
            int scans = 0;
            while (scans < 20 || churned.get() < 20) {
                Result result = scanner.scan();
                assertThat(result.find(stays)).as(result.toString()).contains(Path.of("/proc/" + pid + "/ns/net"));
                scans++;
            }
        } finally {
            churn.set(false);
            churner.join();
        }
    }

    /** A process found in the list that has no namespace file any more (it exited mid-scan) is skipped and counted. */
    @Test
    void aProcessWhoseNamespaceCannotBeReadIsSkippedAndCounted(@TempDir Path fakeProc) throws Exception {
        Files.createSymbolicLink(fakeProc.resolve("self"), Path.of("/proc/self"));
        Path exited = Files.createDirectories(fakeProc.resolve("4242/ns"));
        Files.createSymbolicLink(exited.resolve("net"), Path.of("net:[4026599990]"));
        Path alive = Files.createDirectories(fakeProc.resolve("4243/ns"));
        Files.createSymbolicLink(alive.resolve("net"), Path.of("net:[4026599991]"));
        Path aliveNet = Files.createDirectories(fakeProc.resolve("4243/net"));
        Files.writeString(aliveNet.resolve("fib_trie"), """
                Main:
                  +-- 0.0.0.0/0 3 0 5
                     |-- 0.0.0.0
                        /0 universe UNICAST
                     +-- 10.244.1.0/24 2 0 2
                        |-- 10.244.1.0
                           /24 link UNICAST
                        |-- 10.244.1.7
                           /32 host LOCAL
                     +-- 127.0.0.0/8 2 0 2
                        +-- 127.0.0.0/31 1 0 0
                           |-- 127.0.0.0
                              /8 host LOCAL
                           |-- 127.0.0.1
                              /32 host LOCAL
                        |-- 127.255.255.255
                           /32 link BROADCAST
                Local:
                  +-- 0.0.0.0/0 3 0 5
                     |-- 10.244.1.7
                        /32 host LOCAL
                     |-- 10.244.1.255
                        /32 link BROADCAST
                """);
        Files.writeString(aliveNet.resolve("if_inet6"), """
                00000000000000000000000000000001 01 80 10 80       lo
                fd0000000000000000000000000000a7 02 80 00 80     eth0
                fe80000000000000a8bbccfffedd0001 02 40 20 80     eth0
                """);

        Result result = new NetnsScanner(fakeProc, fakeProc.resolve("no-netns")).scan();

        assertThat(result.byAddress()).isEqualTo(Map.of(
                InetAddress.ofLiteral("10.244.1.7"), alive.resolve("net"),
                InetAddress.ofLiteral("fd00::a7"), alive.resolve("net")));
        assertThat(result.processCount()).isEqualTo(2);
        assertThat(result.namespaceCount()).isEqualTo(2);
        assertThat(result.unreadableCount()).isEqualTo(1);
        assertThat(result.ambiguities()).isEmpty();
    }

    private static InetAddress ipv4() {
        int n = NEXT.getAndIncrement();
        int x = RUN;
        return InetAddress.ofLiteral("10." + (240 + (x >> 16)) + "." + (x >> 8 & 0xff) + "." + (((x & 0xff) + n) % 254 + 1));
    }

    private static InetAddress ipv6() {
        return InetAddress.ofLiteral("fd6e:6d00:" + Integer.toHexString(RUN & 0xffff) + "::" + Integer.toHexString(NEXT.getAndIncrement()));
    }

    private static void add(Netns ns, InetAddress address) {
        ns.execOk("ip", "addr", "add", cidr(address), "dev", "lo");
    }

    private static void add(long pid, InetAddress address) {
        Commands.run("nsenter", "-t", Long.toString(pid), "-n", "ip", "addr", "add", cidr(address), "dev", "lo").requireOk();
    }

    private static String cidr(InetAddress address) {
        return address.getHostAddress() + (address.getAddress().length == 4 ? "/32" : "/128");
    }

    /** Starts a "pod" that is only a process in a namespace of its own (no bind mount); killed after the test. */
    private long loner() throws Exception {
        Process p = start("unshare", "--net", "--", "sleep", "300");
        awaitOwnNamespace(p.pid());
        return p.pid();
    }

    /** Starts a second process in {@code pid}'s namespace; killed after the test. */
    private long spawnIn(long pid) throws Exception {
        Process p = start("nsenter", "-t", Long.toString(pid), "-n", "sleep", "300");
        long target = inode(Path.of("/proc/" + pid + "/ns/net"));
        awaitNamespace(p.pid(), target);
        return p.pid();
    }

    private Process start(String... argv) throws IOException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        loners.add(p);
        return p;
    }

    /** unshare enters its new namespace a moment after it starts. */
    private static void awaitOwnNamespace(long pid) throws Exception {
        long host = inode(Path.of("/proc/self/ns/net"));
        await(() -> inode(Path.of("/proc/" + pid + "/ns/net")) != host, "process " + pid + " in a namespace of its own");
    }

    private static void awaitNamespace(long pid, long namespace) throws Exception {
        await(() -> inode(Path.of("/proc/" + pid + "/ns/net")) == namespace, "process " + pid + " in namespace " + namespace);
    }

    /** nsenter enters the namespace and then execs: wait until {@code count} processes are in it. */
    private static void awaitProcessesIn(Path namespace, int count) throws Exception {
        long target = inode(namespace);
        await(() -> ProcessHandle.allProcesses()
                .filter(p -> {
                    try {
                        return inode(Path.of("/proc/" + p.pid() + "/ns/net")) == target;
                    } catch (UncheckedIOException e) {
                        return false;
                    }
                })
                .count() >= count, count + " processes in " + namespace);
    }

    private static void await(Check check, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!check.ok()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(5);
        }
    }

    private static long inode(Path namespace) {
        try {
            return (Long) Files.getAttribute(namespace, "unix:ino");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private interface Check {
        boolean ok() throws Exception;
    }
}
