package io.nodemesh.bench.snapshot;

import io.nodemesh.proxy.discovery.PodSpec;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Pods for the snapshot benchmarks: pod {@code i} has address 10.77.(i / 256).(i % 256), in 10 namespaces. */
public final class SyntheticPods {

    private SyntheticPods() {
    }

    /** Pod {@code i}'s address, as a new object each call (as a connection's address would be). */
    public static InetAddress address(int i) throws UnknownHostException {
        return InetAddress.getByAddress(new byte[] {10, 77, (byte) (i >> 8), (byte) (i & 0xff)});
    }

    /** {@code count} captured pods. */
    public static List<PodSpec> pods(int count) throws UnknownHostException {
        List<PodSpec> specs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            specs.add(PodSpec.local("app-" + i, "ns-" + (i % 10), "sa-" + i, List.of(address(i)),
                    Path.of("/var/run/netns/pod-" + i)));
        }
        return specs;
    }
}
