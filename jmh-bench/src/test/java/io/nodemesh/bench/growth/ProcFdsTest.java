package io.nodemesh.bench.growth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

class ProcFdsTest {

    private static final String STATUS = """
            Name:\tjava
            VmHWM:\t  215000 kB
            VmRSS:\t  209900 kB
            RssAnon:\t  180012 kB
            RssFile:\t   29888 kB
            """;

    @Test
    void readsStatusLines() {
        assertThat(ProcFds.statusKb(STATUS, "RssAnon")).isEqualTo(180_012);
        assertThat(ProcFds.statusKb(STATUS, "RssFile")).isEqualTo(29_888);
        assertThatThrownBy(() -> ProcFds.statusKb(STATUS, "RssShmem")).hasMessageContaining("no RssShmem");
        assertThatThrownBy(() -> ProcFds.statusKb("RssAnon:\t12 MB\n", "RssAnon")).hasMessageContaining("unexpected RssAnon");
    }

    @Test
    void recognisesSocketLinks() {
        assertThat(ProcFds.isSocket("socket:[123456]")).isTrue();
        assertThat(ProcFds.isSocket("anon_inode:[eventpoll]")).isFalse();
        assertThat(ProcFds.isSocket("/usr/lib/jvm/lib/modules")).isFalse();
    }

    @Test
    void countsThisProcessesSockets() throws Exception {
        long pid = ProcessHandle.current().pid();
        // Other threads of the test JVM may open or close sockets meanwhile: only "at least ours" is certain.
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            assertThat(ProcFds.sockets(pid)).isGreaterThanOrEqualTo(1);
        }
        assertThat(ProcFds.rssAnonKb(pid)).isPositive();
    }
}
