package io.nodemesh.discovery.kubernetes;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.nodemesh.proxy.config.ConfigException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPrivateKey;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.Base64;
import java.util.Date;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Kubeconfig files and a pod's service account read into {@link ApiConfig}, down to a real TLS handshake. */
class ApiConfigTest {

    @TempDir
    Path dir;

    @Test
    void aClientCertificateWithItsKeyInEachPemFormIsPresentedAndTheClustersCaIsTrusted() throws Exception {
        Party server = Party.make("RSA", "nodemesh-test-api");
        for (String algorithm : new String[] {"RSA", "EC"}) {
            Party client = Party.make(algorithm, "system:node:node-a");
            // PKCS#1 ("RSA PRIVATE KEY") or SEC1 ("EC PRIVATE KEY") as written by openssl and kubeadm, and PKCS#8.
            for (String key : new String[] {traditional(client), pkcs8(client)}) {
                Path file = Files.writeString(dir.resolve("kubeconfig"), """
                        apiVersion: v1
                        kind: Config
                        current-context: c
                        contexts: [{name: c, context: {cluster: k, user: u}}]
                        clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443",
                          certificate-authority-data: %s}}]
                        users: [{name: u, user: {client-certificate-data: %s, client-key-data: %s}}]
                        """.formatted(b64(pem(server.cert)), b64(pem(client.cert)), b64(key)));
                ApiConfig config = ApiConfig.kubeconfig(file);
                assertThat(config.server().toString()).isEqualTo("https://127.0.0.1:6443");
                assertThat(config.token()).isNull();
                assertThat(handshake(server, client.cert, config.tls())).as(algorithm + " " + key.lines().findFirst()
                        .orElseThrow()).isEqualTo("CN=system:node:node-a");
            }
        }
    }

    @Test
    void aServerWhoseCertificateDoesNotNameTheAddressIsRefusedUnlessTheKubeconfigSaysToSkipTheCheck() throws Exception {
        Party server = Party.make("EC", "nodemesh-test-api", new GeneralName(GeneralName.dNSName, "api.example"));
        Party client = Party.make("EC", "system:node:node-a");
        String kubeconfig = """
                apiVersion: v1
                kind: Config
                current-context: c
                contexts: [{name: c, context: {cluster: k, user: u}}]
                clusters: [{name: k, cluster: {server: "https://127.0.0.1:6443", %s}}]
                users: [{name: u, user: {client-certificate-data: %s, client-key-data: %s}}]
                """;
        Path file = Files.writeString(dir.resolve("kubeconfig"), kubeconfig.formatted("certificate-authority-data: "
                + b64(pem(server.cert)), b64(pem(client.cert)), b64(pkcs8(client))));
        SslContext checked = ApiConfig.kubeconfig(file).tls();
        assertThatThrownBy(() -> handshake(server, client.cert, checked)).hasStackTraceContaining(
                "No subject alternative names matching IP address 127.0.0.1 found");
        file = Files.writeString(dir.resolve("kubeconfig"), kubeconfig.formatted("insecure-skip-tls-verify: true",
                b64(pem(client.cert)), b64(pkcs8(client))));
        assertThat(handshake(server, client.cert, ApiConfig.kubeconfig(file).tls())).isEqualTo(
                "CN=system:node:node-a");
    }

    @Test
    void filesAreReadRelativeToTheKubeconfigAndATokenFileIsReadAgainWhenAMinuteOld() throws Exception {
        Party server = Party.make("EC", "nodemesh-test-api");
        Files.createDirectories(dir.resolve("certs"));
        Files.writeString(dir.resolve("certs/ca.pem"), pem(server.cert));
        Files.writeString(dir.resolve("certs/token"), "first\n");
        Path file = Files.writeString(dir.resolve("kubeconfig"), """
                apiVersion: v1
                kind: Config
                current-context: c
                contexts: [{name: other, context: {cluster: nowhere}}, {name: c, context: {cluster: k, user: u}}]
                clusters:
                - {name: k, cluster: {server: "https://api.example:6443/", certificate-authority: certs/ca.pem}}
                users: [{name: u, user: {tokenFile: certs/token}}]
                """);
        ApiConfig config = ApiConfig.kubeconfig(file);
        assertThat(config.server().toString()).isEqualTo("https://api.example:6443");
        assertThat(config.token().get()).isEqualTo("first");

        MutableClock clock = new MutableClock();
        Supplier<String> token = ApiConfig.tokenFile("t", dir.resolve("certs/token"), clock);
        Files.writeString(dir.resolve("certs/token"), "rotated\n");
        assertThat(token.get()).as("read at start, not yet a minute old").isEqualTo("first");
        clock.now = clock.now.plus(Duration.ofSeconds(61));
        assertThat(token.get()).isEqualTo("rotated");
        Files.delete(dir.resolve("certs/token"));
        clock.now = clock.now.plus(Duration.ofSeconds(61));
        assertThat(token.get()).as("a file gone for a moment keeps the last token").isEqualTo("rotated");
    }

    @Test
    void whatCannotBeUsedIsRefusedNamingTheFileAndTheField() throws Exception {
        String head = "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
                + "contexts: [{name: c, context: {cluster: k, user: u}}]\n";
        String cluster = "clusters: [{name: k, cluster: {server: \"https://127.0.0.1:6443\"}}]\n";
        Map<String, String> cases = Map.of(
                head + cluster + "users: [{name: u, user: {exec: {command: aws}}}]\n",
                "user u: 'exec' is not supported",
                head + cluster + "users: [{name: u, user: {auth-provider: {name: oidc}}}]\n",
                "user u: 'auth-provider' is not supported",
                head + cluster + "users: [{name: u, user: {client-certificate-data: AAAA}}]\n",
                "a client certificate needs its key",
                head + "clusters: [{name: k, cluster: {server: \"ftp://x\"}}]\nusers: [{name: u, user: {}}]\n",
                "server 'ftp://x' is not an http(s) address",
                head + "clusters: []\nusers: [{name: u, user: {}}]\n", "no cluster named k in clusters",
                "apiVersion: v1\nkind: Config\n", "no current-context",
                head + cluster + "users: [{name: u, user: {tokenFile: missing}}]\n", "cannot read",
                head + "clusters: [{name: k, cluster: {server: \"https://x\", certificate-authority-data: \"!!\"}}]\n"
                        + "users: [{name: u, user: {}}]\n", "certificate-authority-data is not base64");
        for (var c : cases.entrySet()) {
            Path file = Files.writeString(dir.resolve("kubeconfig"), c.getKey());
            assertThatThrownBy(() -> ApiConfig.kubeconfig(file)).as(c.getValue()).isInstanceOf(ConfigException.class)
                    .hasMessageStartingWith(file.toString()).hasMessageContaining(c.getValue());
        }
        assertThatThrownBy(() -> ApiConfig.inCluster(Map.of(), dir)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("KUBERNETES_SERVICE_HOST is not set");
        assertThatThrownBy(() -> ApiConfig.inCluster(Map.of("KUBERNETES_SERVICE_HOST", "10.96.0.1"), dir))
                .isInstanceOf(ConfigException.class).hasMessageContaining(dir.resolve("ca.crt").toString());
    }

    @Test
    void inAPodTheServiceAddressMayBeIpv6() throws Exception {
        Party server = Party.make("EC", "api");
        Files.writeString(dir.resolve("ca.crt"), pem(server.cert));
        Files.writeString(dir.resolve("token"), "t");
        ApiConfig config = ApiConfig.inCluster(Map.of("KUBERNETES_SERVICE_HOST", "fd00:10:96::1",
                "KUBERNETES_SERVICE_PORT", "443"), dir);
        assertThat(config.server().toString()).isEqualTo("https://[fd00:10:96::1]:443");
        assertThat(config.token().get()).isEqualTo("t");
    }

    /** Connects with {@code tls} to a server presenting {@code server} that requires a client certificate it trusts. */
    private static String handshake(Party server, X509Certificate trustedClient, SslContext tls) throws Exception {
        KeyStore trust = KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        trust.setCertificateEntry("client", trustedClient);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext serverTls = SSLContext.getInstance("TLS");
        serverTls.init(server.keyManagers(), tmf.getTrustManagers(), null);
        try (SSLServerSocket listener = (SSLServerSocket) serverTls.getServerSocketFactory().createServerSocket(0, 1,
                java.net.InetAddress.getLoopbackAddress())) {
            listener.setNeedClientAuth(true);
            CompletableFuture<String> peer = CompletableFuture.supplyAsync(() -> {
                try (SSLSocket s = (SSLSocket) listener.accept(); OutputStream out = s.getOutputStream()) {
                    s.startHandshake();
                    String name = ((X509Certificate) s.getSession().getPeerCertificates()[0]).getSubjectX500Principal()
                            .getName();
                    out.write(1);
                    return name;
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            // As ApiClient connects: Netty with the config's context, which checks that the certificate names the
            // address connected to.
            EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
            try {
                CompletableFuture<Integer> read = new CompletableFuture<>();
                Channel ch = new Bootstrap().group(group).channel(NioSocketChannel.class)
                        .handler(new ChannelInitializer<SocketChannel>() {
                            @Override
                            protected void initChannel(SocketChannel c) {
                                c.pipeline().addLast(tls.newHandler(c.alloc(), "127.0.0.1", listener.getLocalPort()),
                                        new ChannelInboundHandlerAdapter() {
                                    @Override
                                    public void channelRead(ChannelHandlerContext ctx, Object msg) {
                                        ByteBuf b = (ByteBuf) msg;
                                        read.complete((int) b.readByte());
                                        b.release();
                                    }

                                    @Override
                                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                                        read.completeExceptionally(cause);
                                    }
                                });
                            }
                        }).connect(listener.getInetAddress(), listener.getLocalPort()).sync().channel();
                assertThat(read.get(10, TimeUnit.SECONDS)).isEqualTo(1);
                ch.close().sync();
            } finally {
                group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
            }
            return peer.get();
        }
    }

    /** A key pair and a self-signed certificate (ApiClientTest's TLS server too). */
    record Party(KeyPair keys, X509Certificate cert) {
        /** A party whose certificate names 127.0.0.1, as an API server's names the address it is reached at. */
        static Party make(String algorithm, String cn) throws Exception {
            return make(algorithm, cn, new GeneralName(GeneralName.iPAddress, "127.0.0.1"));
        }

        /** Key managers presenting this party's certificate, for a TLS server. */
        KeyManager[] keyManagers() throws Exception {
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            store.setKeyEntry("party", keys.getPrivate(), new char[0], new X509Certificate[] {cert});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, new char[0]);
            return kmf.getKeyManagers();
        }

        static Party make(String algorithm, String cn, GeneralName... names) throws Exception {
            KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm);
            g.initialize("RSA".equals(algorithm) ? 2048 : 256);
            KeyPair keys = g.generateKeyPair();
            X500Name name = new X500Name("CN=" + cn);
            Instant now = Instant.now();
            var builder = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now.toEpochMilli()),
                    Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofHours(1))), name,
                    keys.getPublic());
            builder.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(names));
            var signer = new JcaContentSignerBuilder("RSA".equals(algorithm) ? "SHA256withRSA" : "SHA256withECDSA")
                    .build(keys.getPrivate());
            return new Party(keys, new JcaX509CertificateConverter().getCertificate(builder.build(signer)));
        }
    }

    static String pem(Object o) throws Exception {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(o);
        }
        return out.toString();
    }

    /** PKCS#1 for RSA; SEC1 with its curve named for EC, as {@code openssl ecparam -genkey} writes it. */
    private static String traditional(Party p) throws Exception {
        if (p.keys.getPrivate() instanceof ECPrivateKey ec) {
            PrivateKeyInfo info = PrivateKeyInfo.getInstance(ec.getEncoded());
            byte[] der = new org.bouncycastle.asn1.sec.ECPrivateKey(256, ec.getS(),
                    info.getPrivateKeyAlgorithm().getParameters()).getEncoded();
            return "-----BEGIN EC PRIVATE KEY-----\n" + Base64.getMimeEncoder().encodeToString(der)
                    + "\n-----END EC PRIVATE KEY-----\n";
        }
        String pem = pem(p.keys.getPrivate());
        assertThat(pem).startsWith("-----BEGIN RSA PRIVATE KEY-----");
        return pem;
    }

    private static String pkcs8(Party p) throws Exception {
        StringWriter out = new StringWriter();
        try (JcaPEMWriter w = new JcaPEMWriter(out)) {
            w.writeObject(new JcaPKCS8Generator(p.keys.getPrivate(), null));
        }
        assertThat(out.toString()).startsWith("-----BEGIN PRIVATE KEY-----");
        return out.toString();
    }

    private static String b64(String text) {
        return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.US_ASCII));
    }

    private static final class MutableClock extends Clock {
        Instant now = Instant.now();

        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
