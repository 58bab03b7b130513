package io.nodemesh.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.BootSettings;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** {@code --admin}: the proxy's Unix socket or a TCP address, read and written back the same way. */
class AdminAddressTest {

    @Test
    void readsASocketOrHostAndPort() {
        assertThat(AdminAddress.parse("unix:/var/run/nodemesh/admin.sock"))
                .isEqualTo(new AdminAddress(Path.of("/var/run/nodemesh/admin.sock"), null));
        assertThat(AdminAddress.parse("127.0.0.1:15000"))
                .isEqualTo(new AdminAddress(null, new InetSocketAddress("127.0.0.1", 15000)));
        for (String text : new String[] {"unix:/run/a.sock", "127.0.0.1:15000", "[::1]:15000"}) {
            assertThat(AdminAddress.parse(text)).hasToString(text);
        }
        assertThatThrownBy(() -> AdminAddress.parse("unix:")).hasMessageContaining("names no socket");
        assertThatThrownBy(() -> AdminAddress.parse("localhost"))
                .hasMessageContaining("'localhost' is not HOST:PORT").hasMessageEndingWith("or unix:PATH");
    }

    @Test
    void theHelpNamesTheSocketTheProxyBinds() {
        assertThat(AdminAddress.DEFAULT_DESCRIPTION).startsWith("unix:" + BootSettings.DEFAULT_ADMIN_SOCKET + " ");
    }
}
