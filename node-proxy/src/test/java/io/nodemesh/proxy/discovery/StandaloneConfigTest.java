package io.nodemesh.proxy.discovery;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.BootSettings;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.config.HostPort;
import io.nodemesh.proxy.config.IdentitySettings;
import io.nodemesh.proxy.config.ProxySettings;
import io.nodemesh.proxy.config.RulesBackend;
import io.nodemesh.proxy.config.TcpKeepalive;
import io.nodemesh.proxy.transport.TransportKind;
import io.nodemesh.rules.CaptureMode;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StandaloneConfigTest {

    private static final String POD = """
            pods:
              - name: client
                netns: /var/run/netns/c
            """;

    @Test
    void theSampleFileParsesWithEveryField() throws Exception {
        String text;
        try (InputStream in = StandaloneConfig.class.getResourceAsStream("/standalone-example.yaml")) {
            text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        StandaloneConfig.Document doc = StandaloneConfig.parse("standalone-example.yaml", text);
        MeshSnapshot c = doc.snapshot();
        ProxySettings p = c.proxy();
        BootSettings boot = doc.boot();
        assertThat(p.mark()).isEqualTo(0x539);
        assertThat(p.outboundPort()).isEqualTo(15001);
        assertThat(p.inboundPort()).isEqualTo(15006);
        assertThat(boot.transport()).isEqualTo(TransportKind.EPOLL);
        assertThat(boot.workers()).isEqualTo(2);
        assertThat(p.connectTimeout()).isEqualTo(Duration.ofSeconds(5));
        assertThat(p.idleTimeout()).isEqualTo(Duration.ofHours(1));
        assertThat(p.drainTimeout()).isEqualTo(Duration.ofSeconds(30));
        assertThat(p.rules()).isEqualTo(RulesBackend.NFT);
        assertThat(p.capture()).isEqualTo(CaptureMode.REDIRECT);
        assertThat(p.keepalive()).isEqualTo(TcpKeepalive.defaults());
        assertThat(boot.admin()).isEqualTo(new InetSocketAddress("127.0.0.1", 15000));
        assertThat(boot.identity()).isEqualTo(IdentitySettings.defaults());
        PodSpec client = c.pods().get("demo/client");
        assertThat(client.serviceAccount()).isEqualTo("client");
        assertThat(client.ips()).containsExactly(InetAddress.ofLiteral("10.77.0.2"), InetAddress.ofLiteral("fd77::2"));
        assertThat(client.netns()).isEqualTo(Path.of("/var/run/netns/demo-client"));
        assertThat(client.capture()).isTrue();
        assertThat(client.exemptPorts()).containsExactly(22);
        assertThat(client.exemptInboundPorts()).isEmpty();
        assertThat(client.exemptCidrs()).containsExactly("10.96.0.0/12");
        assertThat(c.pods()).containsOnlyKeys("demo/client", "demo/server", "demo/server-b");
        assertThat(c.namespaces().get("demo").enrolled()).isTrue();
        assertThat(c.pods().get("demo/server-b").capture()).as("another node's").isFalse();
        assertThat(c.serviceAt(InetAddress.ofLiteral("10.96.0.20"), 80).backendList())
                .extracting(b -> HostPort.format(b.address())).as("the IPv4 address leads to the IPv4 endpoints").containsExactly("10.77.0.3:8080", "10.77.1.3:8080");
        assertThat(c.podByIp(InetAddress.ofLiteral("fd77::3"))).map(PodSpec::name).contains("server");
        assertThat(c.podByIp(InetAddress.ofLiteral("10.77.0.9"))).isEmpty();
    }

    @Test
    void everythingIsOptionalButNameAndNetns() throws Exception {
        StandaloneConfig.Document c = StandaloneConfig.parse("f", POD);
        assertThat(c.proxy()).isEqualTo(ProxySettings.defaults());
        assertThat(c.boot()).isEqualTo(BootSettings.defaults());
        PodSpec pod = c.pods().get("default/client");
        assertThat(pod.serviceAccount()).isEqualTo("default");
        assertThat(pod.capture()).isTrue();
        assertThat(StandaloneConfig.parse("f", "").pods()).isEmpty();
        assertThat(StandaloneConfig.parse("f", "proxy:\npods:\n").pods()).isEmpty();
        StandaloneConfig.Document markAndAdmin = StandaloneConfig.parse("f", "proxy:\n  mark: 1337\n  admin: '[::1]:0'\n");
        assertThat(markAndAdmin.proxy().mark()).isEqualTo(1337);
        assertThat(markAndAdmin.boot().admin()).isEqualTo(new InetSocketAddress(InetAddress.ofLiteral("::1"), 0));
        StandaloneConfig.Document identity = StandaloneConfig.parse("f",
                "proxy:\n  identity:\n    caDir: /etc/nodemesh/ca\n    trustDomain: mesh.example\n    certificateLifetime: 2m\n");
        assertThat(identity.boot().identity()).isEqualTo(
                new IdentitySettings(Path.of("/etc/nodemesh/ca"), "mesh.example", Duration.ofMinutes(2)));
    }

    @Test
    void keepaliveIsOnByDefaultAndCanBeTunedOrTurnedOff() throws Exception {
        assertThat(StandaloneConfig.parse("f", "proxy:\n  keepalive: off\n").proxy().keepalive().enabled()).isFalse();
        TcpKeepalive tuned = StandaloneConfig.parse("f", "proxy:\n  keepalive: {time: 30s, probes: 4}\n").proxy()
                .keepalive();
        assertThat(tuned).isEqualTo(new TcpKeepalive(true, Duration.ofSeconds(30), Duration.ofMinutes(3), 4));
        assertThat(tuned.deadPeerDropped()).isEqualTo(Duration.ofSeconds(30 + 4 * 180));
        assertThat(TcpKeepalive.defaults().deadPeerDropped()).isEqualTo(Duration.ofMinutes(30));
        assertThat(StandaloneConfig.parse("f", "proxy:\n  keepalive: {time: 9h}\n").proxy().keepalive().timeSeconds())
                .isEqualTo(32400);
    }

    @Test
    void captureIsRedirectUnlessTproxyIsAskedForWithRulesThatCanInstallIt() throws Exception {
        assertThat(StandaloneConfig.parse("f", "proxy:\n  rules: iptables\n").proxy().capture())
                .isEqualTo(CaptureMode.REDIRECT);
        ProxySettings tproxy = StandaloneConfig.parse("f", "proxy:\n  capture: tproxy\n").proxy();
        assertThat(tproxy.capture()).isEqualTo(CaptureMode.TPROXY);
        assertThat(tproxy.rules()).isEqualTo(RulesBackend.NFT);
        assertThat(tproxy.podsAffectedBy(ProxySettings.defaults())).as("a change of capture recaptures the pods").isTrue();
        assertThat(StandaloneConfig.parse("f", "proxy:\n  rules: none\n  capture: tproxy\n").proxy().capture())
                .isEqualTo(CaptureMode.TPROXY);
        assertThatThrownBy(() -> StandaloneConfig.parse("f", "proxy:\n  rules: iptables\n  capture: tproxy\n"))
                .isInstanceOf(ConfigException.class)
                .hasMessage("f:3:12: proxy.capture: tproxy needs rules nft or none; the iptables backend installs "
                        + "REDIRECT rules only");
    }

    @Test
    void mistakesNameFileLineColumnAndField() {
        List<String[]> cases = List.of(
                new String[] {"proxy:\n  mark: 0x539\n  idle: 5s\n", "f:3:3: proxy.idle: unknown key"},
                new String[] {"proxy:\n  workers: many\n", "f:2:12: proxy.workers: 'many' is not a whole number"},
                new String[] {"proxy:\n  connectTimeout: 5\n", "f:2:19: proxy.connectTimeout: '5' is not a duration"},
                new String[] {"proxy:\n  idleTimeout: 1 hour\n", "f:2:16: proxy.idleTimeout: '1 hour' is not a duration"},
                new String[] {"proxy:\n  transport: dpdk\n", "f:2:14: proxy.transport: 'dpdk' is not one of epoll, io_uring, nio"},
                new String[] {"proxy:\n  rules: ebpf\n", "f:2:10: proxy.rules: 'ebpf' is not one of iptables, nft, none"},
                new String[] {"proxy:\n  capture: nat\n", "f:2:12: proxy.capture: 'nat' is not one of redirect, tproxy, ebpf"},
                new String[] {"proxy:\n  capture: TPROXY\n",
                        "f:2:12: proxy.capture: 'TPROXY' is not one of redirect, tproxy, ebpf"},
                new String[] {"proxy:\n  outboundPort: 70000\n", "f:2:17: proxy.outboundPort: 70000 is not a TCP port"},
                new String[] {"proxy:\n  mark: 0\n", "f:2:9: proxy.mark: '0' is not a packet mark"},
                new String[] {"proxy:\n  keepalive: on\n",
                        "f:2:14: proxy.keepalive: 'on' is neither off nor a mapping of time, interval and probes"},
                new String[] {"proxy:\n  keepalive: {time: 1500ms}\n",
                        "f:2:21: proxy.keepalive.time: '1500ms' is not a whole number of seconds "
                                + "(TCP keepalive counts seconds)"},
                new String[] {"proxy:\n  keepalive: {interval: 10h}\n",
                        "f:2:25: proxy.keepalive.interval: '10h' is longer than the kernel's 32767 s"},
                new String[] {"proxy:\n  keepalive: {probes: 0}\n",
                        "f:2:23: proxy.keepalive.probes: 0 is not between 1 and 127"},
                new String[] {"proxy:\n  keepalive: {idle: 1m}\n", "f:2:15: proxy.keepalive.idle: unknown key"},
                new String[] {"proxy:\n  identity:\n    trustDomain: Mesh\n",
                        "f:3:18: proxy.identity.trustDomain: 'Mesh' is not a trust domain"},
                new String[] {"proxy:\n  identity:\n    certificateLifetime: 1 day\n",
                        "f:3:26: proxy.identity.certificateLifetime: '1 day' is not a duration"},
                new String[] {"proxy:\n  identity:\n    ca: /x\n", "f:3:5: proxy.identity.ca: unknown key"},
                new String[] {"proxy:\n  admin: localhost:15000\n", "f:2:10: proxy.admin: 'localhost:15000': 'localhost' is not an IP address"},
                new String[] {POD + "    ips: [10.0.0.300]\n", "f:4:11: pods[0].ips[0]: '10.0.0.300' is not an IP address"},
                new String[] {POD + "    ips: [10.1]\n", "f:4:11: pods[0].ips[0]: '10.1' is not an IP address"},
                new String[] {POD + "    exemptCidrs: [10.96.0.0/40]\n", "f:4:19: pods[0].exemptCidrs[0]: '10.96.0.0/40' is not a network"},
                new String[] {POD + "    exemptPorts: [ssh]\n", "f:4:19: pods[0].exemptPorts[0]: 'ssh' is not a whole number"},
                new String[] {POD + "    capture: maybe\n", "f:4:14: pods[0].capture: 'maybe' is not true or false"},
                new String[] {POD + "    ips: 10.0.0.1\n", "f:4:10: pods[0].ips: expected a list"},
                new String[] {POD + "    colour: red\n", "f:4:5: pods[0].colour: unknown key"},
                new String[] {ENROLLED + "pods:\n  - name: c\n    namespace: demo\n    netns: /x\n    capture: true\n",
                        "f:8:14: pods[0].capture: namespace demo is listed under namespaces, so its label enrols its pods"},
                new String[] {"namespaces:\n  - name: demo\n    labels: {nodemesh.io/peer-authentication: strcit}\n",
                        "f:3:13: namespaces[0].labels.nodemesh.io/peer-authentication: 'strcit' is neither permissive nor strict"},
                new String[] {"pods:\n  - name: c\n    node: n2\n    capture: true\n",
                        "f:4:14: pods[0].capture: a pod this node captures needs 'netns'"},
                new String[] {"services:\n  - name: web\n    addresses: [10.96.0.1]\n", "f:2:5: services[0]: missing required field 'ports'"},
                new String[] {"services:\n  - name: web\n    ports: [{port: 0}]\n", "f:3:20: services[0].ports[0].port: 0 is not a TCP port"},
                new String[] {"services:\n  - name: web\n    ports: [{port: 80, targetPort: 70000}]\n",
                        "f:3:36: services[0].ports[0].targetPort: 70000 is not a TCP port"},
                new String[] {"services:\n  - name: web\n    ports: [{port: 80}, {port: 81}]\n",
                        "f:3:13: services[0].ports[0]: a service with several ports names each"},
                new String[] {"services:\n  - name: web\n    addresses: [10.96.0.1]\n    ports: [{port: 80}]\n"
                        + "  - name: web2\n    addresses: [10.96.0.1]\n    ports: [{port: 80}]\n",
                        "f:5:5: services[1]: 10.96.0.1:80 is also a port of service default/web"},
                new String[] {POD + "    ips: [10.0.0.1]\nservices:\n  - name: web\n    addresses: [10.0.0.1]\n    ports: [{port: 80}]\n",
                        "f:6:5: services[0].addresses: 10.0.0.1 is the address of pod default/client"},
                new String[] {"pods:\n  - name: client\n    namespace: demo\n", "f:2:5: pods[0]: missing required field 'netns' (path of the pod's network namespace; a pod of another node has 'node' instead)"},
                new String[] {"pods:\n  - netns: /x\n", "f:2:5: pods[0]: missing required field 'name'"},
                new String[] {"pods:\n  - name: Client_1\n    netns: /x\n", "f:2:11: pods[0].name: 'Client_1' is not a Kubernetes name"},
                new String[] {"pods:\n  - name: c\n    netns: relative/x\n", "f:3:12: pods[0].netns: 'relative/x' is not an absolute path"},
                new String[] {"pods:\n  - name: c\n    netns: /x\n    cgroup: pod-c\n",
                        "f:4:13: pods[0].cgroup: 'pod-c' is not an absolute path"},
                new String[] {POD + "  - name: client\n    netns: /y\n", "f:4:5: pods[1]: pod default/client is listed twice"},
                new String[] {POD + "    ips: [10.0.0.1]\n  - name: other\n    ips: [10.0.0.1]\n    netns: /y\n",
                        "f:5:5: pods[1].ips: 10.0.0.1 is also the address of pod default/client"},
                new String[] {"policies:\n  - name: p\n    rules: [{to: [{operation: {methods: [GET]}}]}]\n",
                        "f:2:5: policies[0].rules[0].to[0].operation.methods: cannot be enforced at L4"},
                new String[] {"policies:\n  - {name: p}\n  - {name: p}\n", "f:3:5: policies[1]: policy default/p is listed twice"},
                new String[] {"proxy:\n  mark: 1\n  mark: 2\n", "f:3:3: proxy.mark: duplicate key"},
                new String[] {"pods: {name: x}\n", "f:1:7: pods: expected a list, found a mapping"},
                new String[] {"proxy: [1]\n", "f:1:8: proxy: expected a mapping"},
                new String[] {"proxy:\n  mark: [1\n", "f:3:1: not valid YAML"},
                new String[] {"proxy:\n\tmark: 1\n", "f:2:1: not valid YAML"});
        for (String[] c : cases) {
            assertThatThrownBy(() -> StandaloneConfig.parse("f", c[0]))
                    .as("%s", c[0])
                    .isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith(c[1]);
        }
    }

    @Test
    void aPodsCgroupIsReadForTheEbpfCapture() throws Exception {
        StandaloneConfig.Document doc = StandaloneConfig.parse("f", """
                proxy: {capture: ebpf}
                pods:
                  - {name: a, netns: /run/netns/a, cgroup: /sys/fs/cgroup/pod-a}
                  - {name: b, netns: /run/netns/b}
                """);
        assertThat(doc.snapshot().proxy().capture()).isEqualTo(CaptureMode.EBPF);
        assertThat(doc.snapshot().pods().get("default/a").cgroup()).isEqualTo(Path.of("/sys/fs/cgroup/pod-a"));
        assertThat(doc.snapshot().pods().get("default/b").cgroup()).isNull();
    }

    private static final String ENROLLED = "namespaces:\n  - name: demo\n    labels: {nodemesh.io/capture: enabled}\n";

    @Test
    void namespacesEnrolTheirPodsAndServicesSelectEndpoints() throws Exception {
        String text = """
                namespaces:
                  - name: shop
                    labels: {nodemesh.io/capture: enabled}
                  - name: legacy
                pods:
                  - {name: web, namespace: shop, ips: [10.0.0.2], netns: /run/netns/web}
                  - {name: out, namespace: shop, ips: [10.0.0.3], netns: /run/netns/out,
                     annotations: {nodemesh.io/capture: disabled}}
                  - {name: host, namespace: shop, ips: [10.0.0.4], netns: /run/netns/host, hostNetwork: true}
                  - {name: api-1, namespace: shop, serviceAccount: api, ips: [10.0.1.1], node: n2,
                     labels: {app: api}, ports: {http: 8080}}
                  - {name: api-2, namespace: shop, serviceAccount: api, ips: [10.0.1.2], netns: /run/netns/api-2,
                     labels: {app: api}, ports: {http: 8081}, ready: false}
                  - {name: api-3, namespace: shop, ips: [10.0.1.3], netns: /run/netns/api-3, labels: {app: api}}
                  - {name: old, namespace: legacy, ips: [10.0.2.1], netns: /run/netns/old}
                  - {name: free, namespace: other, ips: [10.0.3.1], netns: /run/netns/free}
                services:
                  - name: api
                    namespace: shop
                    addresses: [10.96.0.10]
                    ports:
                      - {name: http, port: 80, targetPort: http}
                      - {name: admin, port: 9000, targetPort: 9001}
                    selector: {app: api}
                """;
        MeshSnapshot mesh = StandaloneConfig.parse("f", text).snapshot();

        assertThat(mesh.namespaces().get("shop").enrolled()).isTrue();
        assertThat(mesh.namespaces().get("legacy").enrolled()).isFalse();
        assertThat(mesh.pods().get("shop/web").capture()).isTrue();
        assertThat(mesh.pods().get("shop/out").meshed()).as("opted out").isFalse();
        assertThat(mesh.pods().get("shop/host").meshed()).as("host network").isFalse();
        PodSpec remote = mesh.pods().get("shop/api-1");
        assertThat(remote.meshed()).isTrue();
        assertThat(remote.capture()).as("another node's").isFalse();
        assertThat(remote.netns()).isNull();
        assertThat(remote.node()).isEqualTo("n2");
        assertThat(mesh.pods().get("legacy/old").meshed()).as("namespace not enrolled").isFalse();
        assertThat(mesh.pods().get("other/free").capture()).as("namespace not listed: its own capture key").isTrue();

        ServiceSpec api = mesh.services().get("shop/api");
        assertThat(api.endpoints()).extracting(ServiceSpec.Endpoint::pod)
                .containsExactly("shop/api-1", "shop/api-2", "shop/api-3");
        assertThat(api.readyEndpoints()).isEqualTo(2);
        assertThat(api.endpoints().get(0).ports()).isEqualTo(java.util.Map.of("http", 8080, "admin", 9001));
        assertThat(api.endpoints().get(2).ports()).as("api-3 has no port named http").isEqualTo(java.util.Map.of("admin", 9001));
        ServiceTarget http = mesh.serviceAt(java.net.InetAddress.ofLiteral("10.96.0.10"), 80);
        assertThat(http.backendList()).extracting(b -> b.address().getPort()).containsExactly(8080);
        assertThat(http.backendList().getFirst().pod()).isSameAs(remote);
        assertThat(mesh.serviceAt(java.net.InetAddress.ofLiteral("10.96.0.10"), 9000).backendList())
                .extracting(b -> b.pod().name()).containsExactly("api-1", "api-3");
        assertThat(mesh.serviceAt(java.net.InetAddress.ofLiteral("10.96.0.10"), 81)).isNull();
    }

    @Test
    void aMissingFileIsNamed() {
        assertThatThrownBy(() -> StandaloneConfig.load(Path.of("/nonexistent/mesh.yaml")))
                .isInstanceOf(ConfigException.class)
                .hasMessage("/nonexistent/mesh.yaml: no such file");
    }

    @Test
    void aFileThatIsNotUtf8TextIsNamedWithTheOffsetOfItsFirstBadByte(@TempDir Path dir) throws Exception {
        Path garbage = dir.resolve("garbage.yaml");
        Files.write(garbage, new byte[] {'p', 'o', 'd', 's', ':', '\n', ' ', (byte) 0xff, (byte) 0xfe, 0, 1});
        String expected = garbage + ": not UTF-8 text: byte 0xff at offset 7 (line 2) is not valid UTF-8; "
                + "the config file must be UTF-8 YAML";

        assertThatThrownBy(() -> StandaloneConfig.load(garbage)).isInstanceOf(ConfigException.class).hasMessage(expected);
        assertThatThrownBy(() -> new ConfigFileWatcher(garbage).load()).hasMessage(expected);
        Files.writeString(garbage, "pods: []\n# caf\u00e9\n");
        assertThat(StandaloneConfig.load(garbage).pods()).isEmpty();
    }
}
