package io.nodemesh.discovery.kubernetes;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Where the kubelet puts a pod's cgroup, under either cgroup driver and under a kubelet of its own slice. */
class CgroupFinderTest {

    private static final String UID = "0f6c2e1a-4b6d-4c1e-9f3a-2b7d8e9c1a55";
    private static final String UID_ = UID.replace('-', '_');

    @TempDir
    Path root;

    @Test
    void theSystemdDriversSlicesOfEachQosClass() throws Exception {
        Path guaranteed = dir("kubepods.slice/kubepods-pod" + UID_ + ".slice");
        assertThat(CgroupFinder.under(root).find(UID)).isEqualTo(guaranteed);
        Files.delete(guaranteed);
        Path burstable = dir("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_ + ".slice");
        dir("kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + UID_ + ".slice/cri-containerd-1.scope");
        assertThat(CgroupFinder.under(root).find(UID)).isEqualTo(burstable);
        Path besteffort = dir("kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-podx.slice");
        assertThat(CgroupFinder.under(root).find("x")).isEqualTo(besteffort);
    }

    @Test
    void theCgroupfsDriversDirectories() throws Exception {
        Path burstable = dir("kubepods/burstable/pod" + UID);
        assertThat(CgroupFinder.under(root).find(UID)).isEqualTo(burstable);
        Path guaranteed = dir("kubepods/podg");
        assertThat(CgroupFinder.under(root).find("g")).isEqualTo(guaranteed);
    }

    @Test
    void aKubeletUnderASliceOfItsOwnIsFoundByAWalkAndItsPodsNextToThemAfterwards() throws Exception {
        String base = "kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-burstable.slice/";
        Path first = dir(base + "kubelet-kubepods-burstable-pod" + UID_ + ".slice");
        dir(base + "kubelet-kubepods-burstable-pod" + UID_ + "9.slice"); // another uid that only starts alike
        CgroupFinder finder = CgroupFinder.under(root);
        assertThat(finder.find(UID)).isEqualTo(first);
        Path second = dir(base + "kubelet-kubepods-burstable-podb.slice");
        assertThat(finder.find("b")).as("next to the first, no walk").isEqualTo(second);
    }

    @Test
    void aPodNotThereIsLookedForAgainAndAGonePodIsNotFound() throws Exception {
        CgroupFinder finder = CgroupFinder.under(root);
        assertThat(finder.find(UID)).isNull();
        Path later = dir("kubepods.slice/kubepods-pod" + UID_ + ".slice");
        assertThat(finder.find(UID)).as("the six places are looked at every time").isEqualTo(later);
        Files.delete(later);
        assertThat(finder.find(UID)).isNull();
        assertThat(CgroupFinder.NONE.find(UID)).isNull();
        assertThat(finder.find("")).isNull();
    }

    private Path dir(String relative) throws Exception {
        return Files.createDirectories(root.resolve(relative));
    }
}
