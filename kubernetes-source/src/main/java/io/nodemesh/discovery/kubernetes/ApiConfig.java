package io.nodemesh.discovery.kubernetes;

import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProtocols;
import io.netty.handler.ssl.SslProvider;
import io.netty.handler.ssl.util.InsecureTrustManagerFactory;
import io.nodemesh.proxy.config.ConfigException;
import io.nodemesh.proxy.identity.PemKeys;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import javax.net.ssl.SSLException;
import org.bouncycastle.openssl.PEMParser;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * How to reach the Kubernetes API: its address, the TLS to talk to it with and the credential to send. Made from a
 * pod's service account ({@link #inCluster}), from a kubeconfig file ({@link #kubeconfig}), or by {@link #auto}: the
 * service account in a pod, else {@code $KUBECONFIG} (its first file), else {@code ~/.kube/config}.
 *
 * <p>Of kubeconfig's ways to authenticate, a bearer token ({@code token}, {@code tokenFile}) and a client certificate
 * ({@code client-certificate[-data]} with {@code client-key[-data]}) are taken; {@code exec} plugins,
 * {@code auth-provider} and basic auth are refused with the reason. A token read from a file is read again once it is a
 * minute old, so a projected service-account token that the kubelet rotates keeps working.
 *
 * @param server the API's base address ({@code https://host:port}, or {@code http://} for a test mock)
 * @param tls the TLS context for {@code https} (null for {@code http}): the cluster's CA and the host name checked (or,
 *     when asked, no verification), and the client certificate if any
 * @param token the bearer token for each request, or null to send none
 */
public record ApiConfig(URI server, SslContext tls, Supplier<String> token) {

    /** Where a pod finds its service account's token, CA and namespace. */
    public static final Path SERVICE_ACCOUNT = Path.of("/var/run/secrets/kubernetes.io/serviceaccount");

    private static final Duration TOKEN_REREAD = Duration.ofMinutes(1);

    public ApiConfig {
        Objects.requireNonNull(server, "server");
        if ("https".equals(server.getScheme())) {
            Objects.requireNonNull(tls, "tls");
        }
    }

    /** The pod's view, else the user's kubeconfig (see the class comment). */
    public static ApiConfig auto() throws ConfigException {
        Map<String, String> env = System.getenv();
        boolean host = env.get("KUBERNETES_SERVICE_HOST") != null;
        boolean token = Files.exists(SERVICE_ACCOUNT.resolve("token"));
        if (host && token) {
            return inCluster(env, SERVICE_ACCOUNT);
        }
        String list = env.get("KUBECONFIG");
        Path file = list != null && !list.isBlank() ? Path.of(list.split(":")[0])
                : Path.of(System.getProperty("user.home"), ".kube", "config");
        if (!Files.exists(file)) {
            String pod = host ? "KUBERNETES_SERVICE_HOST is set but there is no service account token at "
                    + SERVICE_ACCOUNT.resolve("token") + " (automountServiceAccountToken: false?)"
                    : "not in a pod (no KUBERNETES_SERVICE_HOST)";
            throw new ConfigException("Kubernetes client configuration: " + pod + ", and no kubeconfig at " + file
                    + " (give one with --kubeconfig)");
        }
        return kubeconfig(file);
    }

    /**
     * A pod's view: {@code KUBERNETES_SERVICE_HOST} and {@code KUBERNETES_SERVICE_PORT} from {@code env}, and the
     * service account's {@code token} and {@code ca.crt} in {@code serviceAccount}.
     */
    public static ApiConfig inCluster(Map<String, String> env, Path serviceAccount) throws ConfigException {
        String host = env.get("KUBERNETES_SERVICE_HOST");
        String port = env.getOrDefault("KUBERNETES_SERVICE_PORT", "443");
        if (host == null || host.isBlank()) {
            throw new ConfigException("in-cluster Kubernetes configuration: KUBERNETES_SERVICE_HOST is not set");
        }
        URI server = uri("in-cluster Kubernetes configuration", "https://" + (host.contains(":") ? "[" + host + "]"
                : host) + ":" + port);
        Path ca = serviceAccount.resolve("ca.crt");
        Path token = serviceAccount.resolve("token");
        String what = "in-cluster Kubernetes configuration (" + serviceAccount + ")";
        return new ApiConfig(server, tls(what, read(what, ca), null, null, false), tokenFile(what, token));
    }

    /** The current context of the kubeconfig {@code file}. */
    public static ApiConfig kubeconfig(Path file) throws ConfigException {
        String what = file.toString();
        Object doc;
        try {
            doc = new Yaml(new SafeConstructor(new LoaderOptions())).load(new StringReader(Files.readString(file)));
        } catch (NoSuchFileException e) {
            throw new ConfigException(what + ": no such file", e);
        } catch (IOException e) {
            throw new ConfigException(what + ": cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw new ConfigException(what + ": not YAML: " + e.getMessage(), e);
        }
        Map<?, ?> root = doc instanceof Map<?, ?> m ? m : Map.of();
        String contextName = string(root.get("current-context"));
        if (contextName == null) {
            throw new ConfigException(what + ": no current-context");
        }
        Map<?, ?> context = named(what, root, "contexts", contextName, "context");
        String clusterName = string(context.get("cluster"));
        String userName = string(context.get("user"));
        if (clusterName == null) {
            throw new ConfigException(what + ": context " + contextName + " names no cluster");
        }
        Map<?, ?> cluster = named(what, root, "clusters", clusterName, "cluster");
        Map<?, ?> user = userName == null ? Map.of() : named(what, root, "users", userName, "user");
        Path dir = file.toAbsolutePath().getParent();

        String serverText = string(cluster.get("server"));
        if (serverText == null) {
            throw new ConfigException(what + ": cluster " + clusterName + " has no server");
        }
        URI server = uri(what + ": cluster " + clusterName, serverText.replaceAll("/+$", ""));
        boolean insecure = Boolean.TRUE.equals(cluster.get("insecure-skip-tls-verify"));
        byte[] ca = bytes(what + ": cluster " + clusterName, cluster, "certificate-authority", dir);

        String userWhat = what + ": user " + userName;
        for (String refused : List.of("exec", "auth-provider", "username", "password")) {
            if (user.get(refused) != null) {
                throw new ConfigException(userWhat + ": '" + refused + "' is not supported by nodemesh; give the "
                        + "user a token, a tokenFile or a client certificate and key");
            }
        }
        byte[] cert = bytes(userWhat, user, "client-certificate", dir);
        byte[] key = bytes(userWhat, user, "client-key", dir);
        if ((cert == null) != (key == null)) {
            throw new ConfigException(userWhat + ": a client certificate needs its key and a key its certificate");
        }
        Supplier<String> token = null;
        if (string(user.get("token")) != null) {
            String t = string(user.get("token")).strip();
            token = () -> t;
        } else if (string(user.get("tokenFile")) != null) {
            token = tokenFile(userWhat, dir.resolve(string(user.get("tokenFile"))));
        }
        SslContext tls = "https".equals(server.getScheme()) ? tls(what, ca, cert, key, insecure) : null;
        return new ApiConfig(server, tls, token);
    }

    /** A token read from {@code file} now (failing if it cannot be) and again whenever it is a minute old. */
    static Supplier<String> tokenFile(String what, Path file) throws ConfigException {
        return tokenFile(what, file, Clock.systemUTC());
    }

    /** {@link #tokenFile(String, Path)} with the time from {@code clock}. */
    static Supplier<String> tokenFile(String what, Path file, Clock clock) throws ConfigException {
        String first = new String(read(what, file), StandardCharsets.UTF_8).strip();
        return new Supplier<>() {
            private String token = first;
            private Instant readAt = clock.instant();

            @Override
            public synchronized String get() {
                if (clock.instant().isAfter(readAt.plus(TOKEN_REREAD))) {
                    try {
                        token = Files.readString(file).strip();
                    } catch (IOException e) {
                        // Keep the last token: a rotation in progress, the API says whether it still holds.
                    }
                    readAt = clock.instant();
                }
                return token;
            }
        };
    }

    private static Map<?, ?> named(String what, Map<?, ?> root, String list, String name, String field)
            throws ConfigException {
        if (root.get(list) instanceof List<?> entries) {
            for (Object e : entries) {
                if (e instanceof Map<?, ?> m && name.equals(m.get("name"))) {
                    return m.get(field) instanceof Map<?, ?> inner ? inner : Map.of();
                }
            }
        }
        throw new ConfigException(what + ": no " + field + " named " + name + " in " + list);
    }

    /** {@code field}-data (base64) or {@code field} (a file, relative to the kubeconfig's directory), or null. */
    private static byte[] bytes(String what, Map<?, ?> map, String field, Path dir) throws ConfigException {
        String data = string(map.get(field + "-data"));
        if (data != null) {
            try {
                return Base64.getDecoder().decode(data.replaceAll("\\s", ""));
            } catch (IllegalArgumentException e) {
                throw new ConfigException(what + ": " + field + "-data is not base64");
            }
        }
        String file = string(map.get(field));
        return file == null ? null : read(what + ": " + field, dir.resolve(file));
    }

    private static byte[] read(String what, Path file) throws ConfigException {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new ConfigException(what + ": cannot read " + file + ": " + e, e);
        }
    }

    private static URI uri(String what, String text) throws ConfigException {
        try {
            URI uri = new URI(text);
            if (!"https".equals(uri.getScheme()) && !"http".equals(uri.getScheme()) || uri.getHost() == null) {
                throw new ConfigException(what + ": server '" + text + "' is not an http(s) address");
            }
            return uri;
        } catch (URISyntaxException e) {
            throw new ConfigException(what + ": server '" + text + "' is not an address: " + e.getMessage());
        }
    }

    private static String string(Object o) {
        return o instanceof String s && !s.isBlank() ? s : null;
    }

    /**
     * The TLS context: trusting {@code ca} (PEM, one or more certificates; the JDK's CAs when null) and checking that
     * the server's certificate names the host, or trusting anything when {@code insecure}; presenting {@code cert}
     * with {@code key} (PEM) when given. BoringSSL (the tunnel's) where Netty has it, else the JDK's.
     */
    private static SslContext tls(String what, byte[] ca, byte[] cert, byte[] key, boolean insecure)
            throws ConfigException {
        try {
            SslContextBuilder builder = SslContextBuilder.forClient()
                    .sslProvider(OpenSsl.isAvailable() ? SslProvider.OPENSSL : SslProvider.JDK)
                    .protocols(SslProtocols.TLS_v1_3, SslProtocols.TLS_v1_2)
                    .keyStoreType("JKS"); // the store never leaves memory: PKCS12's PBKDF2 would only cost time
            if (insecure) {
                builder.trustManager(InsecureTrustManagerFactory.INSTANCE).endpointIdentificationAlgorithm(null);
            } else {
                if (ca != null) {
                    builder.trustManager(certificates(what + ": certificate authority", ca)
                            .toArray(new X509Certificate[0]));
                }
                builder.endpointIdentificationAlgorithm("HTTPS");
            }
            if (cert != null) {
                builder.keyManager(privateKey(what + ": client key", key),
                        certificates(what + ": client certificate", cert).toArray(new X509Certificate[0]));
            }
            return builder.build();
        } catch (SSLException | RuntimeException e) {
            throw new ConfigException(what + ": cannot set up TLS: " + e.getMessage(), e);
        }
    }

    private static List<X509Certificate> certificates(String what, byte[] pem) throws ConfigException {
        try (InputStream in = new ByteArrayInputStream(pem)) {
            List<X509Certificate> list = new ArrayList<>();
            for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                list.add((X509Certificate) c);
            }
            if (list.isEmpty()) {
                throw new ConfigException(what + ": no PEM certificate in it");
            }
            return list;
        } catch (GeneralSecurityException | IOException e) {
            throw new ConfigException(what + ": not a PEM certificate: " + e.getMessage(), e);
        }
    }

    /** A PEM key in any of the forms kubeconfigs hold: PKCS#8, PKCS#1 (RSA) or SEC1 (EC). */
    private static PrivateKey privateKey(String what, byte[] pem) throws ConfigException {
        try (PEMParser parser = new PEMParser(new StringReader(new String(pem, StandardCharsets.US_ASCII)))) {
            PrivateKey key = PemKeys.privateKey(parser.readObject());
            if (key == null) {
                throw new ConfigException(what + ": not an unencrypted PEM private key");
            }
            return key;
        } catch (IOException e) {
            throw new ConfigException(what + ": not a PEM private key: " + e.getMessage(), e);
        }
    }
}
