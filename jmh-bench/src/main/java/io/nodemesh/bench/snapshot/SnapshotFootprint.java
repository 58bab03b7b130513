package io.nodemesh.bench.snapshot;

import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.PodSpec;
import io.nodemesh.proxy.discovery.ServiceSpec;
import java.lang.management.ManagementFactory;
import java.util.List;

/**
 * The heap one snapshot holds per pod of another node and per service: builds the cluster of {@link
 * MeshScaleBenchmark} (100 000 pods, 100 of them this node's; 10 000 services of 10 endpoints), keeping everything
 * reachable, and reads the used heap after full collections before and after. Run it with the daemon's flags, e.g.
 * {@code java -XX:+UseCompactObjectHeaders -cp benchmarks.jar io.nodemesh.bench.snapshot.SnapshotFootprint}.
 */
public final class SnapshotFootprint {

    private SnapshotFootprint() {
    }

    public static void main(String[] args) throws Exception {
        int pods = args.length > 0 ? Integer.parseInt(args[0]) : 100_000;
        int services = args.length > 1 ? Integer.parseInt(args[1]) : 10_000;
        long base = usedAfterGc();
        List<PodSpec> podList = SyntheticPods.cluster(pods, 100);
        MeshSnapshot podsOnly = new MeshSnapshot(ProxySettings.defaults(), List.of(), podList, List.of());
        long withPods = usedAfterGc();
        List<ServiceSpec> serviceList = SyntheticPods.services(services, podList);
        MeshSnapshot full = new MeshSnapshot(ProxySettings.defaults(), List.of(), podList, serviceList);
        int podsIndexed = podsOnly.pods().size();
        podsOnly = null; // both measurements hold one snapshot's pod index
        long withServices = usedAfterGc();
        System.out.printf("pods: %d, services: %d%n", pods, services);
        System.out.printf("per pod (PodSpec, its address and name, the snapshot's maps): %d bytes%n",
                (withPods - base) / pods);
        System.out.printf("per service (ServiceSpec, 10 endpoints, VIP index, backends): %d bytes%n",
                (withServices - withPods) / services);
        System.out.printf("whole snapshot: %.1f MB%n", (withServices - base) / 1e6);
        // Keep the lists and the snapshot reachable until the last measurement.
        System.out.println(podsIndexed + full.services().size() + podList.size() + serviceList.size() > 0 ? "" : "?");
    }

    private static long usedAfterGc() throws InterruptedException {
        for (int i = 0; i < 4; i++) {
            System.gc();
            Thread.sleep(100);
        }
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }
}
