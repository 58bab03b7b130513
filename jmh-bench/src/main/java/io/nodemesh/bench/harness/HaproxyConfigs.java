package io.nodemesh.bench.harness;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The matrix's HAProxy configurations (TCP mode, one thread) and the {@code openssl} commands that
 * make the mutual-TLS pair's certificates; pure text, so tests can read what would run.
 */
final class HaproxyConfigs {

    /** The server certificate's name; the client-side HAProxy verifies it. */
    static final String SERVER_NAME = "server.nodemesh.test";
    /** The client certificate's name; the server-side HAProxy requires a certificate from the run's CA. */
    static final String CLIENT_NAME = "client.nodemesh.test";

    /** One listener forwarded to one target. */
    record Forward(String bindHost, int bindPort, String targetHost, int targetPort) {
    }

    private HaproxyConfigs() {
    }

    /** Plain TCP forwarding, one frontend/backend per forward. */
    static String tcp(List<Forward> forwards) {
        StringBuilder cfg = new StringBuilder(GLOBAL);
        for (int i = 0; i < forwards.size(); i++) {
            Forward f = forwards.get(i);
            cfg.append(frontend(i, f, "")).append(backend(i, f, ""));
        }
        return cfg.toString();
    }

    /**
     * The client pod's side of the pair: plain in, TLS out with the client certificate, verifying
     * the server's certificate against the run's CA and name.
     */
    static String mtlsClient(List<Forward> forwards, Path clientPem, Path caCert) {
        StringBuilder cfg = new StringBuilder(GLOBAL);
        String tls = " ssl crt " + clientPem + " ca-file " + caCert + " verify required verifyhost " + SERVER_NAME
                + " sni str(" + SERVER_NAME + ")";
        for (int i = 0; i < forwards.size(); i++) {
            Forward f = forwards.get(i);
            cfg.append(frontend(i, f, "")).append(backend(i, f, tls));
        }
        return cfg.toString();
    }

    /** The server pod's side: TLS in, requiring a client certificate from the run's CA; plain out to the app. */
    static String mtlsServer(List<Forward> forwards, Path serverPem, Path caCert) {
        StringBuilder cfg = new StringBuilder(GLOBAL);
        String tls = " ssl crt " + serverPem + " ca-file " + caCert + " verify required";
        for (int i = 0; i < forwards.size(); i++) {
            Forward f = forwards.get(i);
            cfg.append(frontend(i, f, tls)).append(backend(i, f, ""));
        }
        return cfg.toString();
    }

    /**
     * The {@code openssl} argv lists that make, in {@code dir}, a throw-away CA ({@code ca.key},
     * {@code ca.crt}) and a P-256 key and CA-signed certificate for the server and the client
     * ({@code server.key/.crt}, {@code client.key/.crt}), each with its name as SAN and its
     * extended key usage. Valid two days: they live only as long as the run's temp dir.
     */
    static List<List<String>> certificateCommands(Path dir) {
        List<List<String>> cmds = new ArrayList<>();
        cmds.add(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", dir.resolve("ca.key").toString(), "-out", dir.resolve("ca.crt").toString(), "-days", "2",
                "-subj", "/CN=nodemesh-bench-ca"));
        for (String who : List.of("server", "client")) {
            String name = who.equals("server") ? SERVER_NAME : CLIENT_NAME;
            String usage = who.equals("server") ? "serverAuth" : "clientAuth";
            cmds.add(List.of("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", dir.resolve(who + ".key").toString(), "-out", dir.resolve(who + ".csr").toString(),
                    "-subj", "/CN=" + name, "-addext", "subjectAltName=DNS:" + name, "-addext", "extendedKeyUsage=" + usage));
            cmds.add(List.of("openssl", "x509", "-req", "-in", dir.resolve(who + ".csr").toString(),
                    "-CA", dir.resolve("ca.crt").toString(), "-CAkey", dir.resolve("ca.key").toString(), "-CAcreateserial",
                    "-out", dir.resolve(who + ".crt").toString(), "-days", "2", "-copy_extensions", "copyall"));
        }
        return cmds;
    }

    private static final String GLOBAL = """
            global
                nbthread 1
                maxconn 8192
                tune.ssl.default-dh-param 2048
            defaults
                mode tcp
                timeout connect 5s
                timeout client 60s
                timeout server 60s
            """;

    private static String frontend(int i, Forward f, String bindTls) {
        return "frontend f" + i + "\n    bind " + f.bindHost() + ":" + f.bindPort() + bindTls + "\n    default_backend b" + i + "\n";
    }

    private static String backend(int i, Forward f, String serverTls) {
        return "backend b" + i + "\n    server s" + i + " " + f.targetHost() + ":" + f.targetPort() + serverTls + "\n";
    }
}
