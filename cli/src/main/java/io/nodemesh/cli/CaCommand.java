package io.nodemesh.cli;

import io.nodemesh.proxy.identity.IdentityException;
import io.nodemesh.proxy.identity.MeshCa;
import io.nodemesh.proxy.model.SpiffeId;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code nodemesh ca}: the mesh CA every proxy issues its workload certificates from. */
@Command(name = "ca",
        mixinStandardHelpOptions = true,
        description = "Manage the mesh CA the proxies issue workload certificates from.",
        subcommands = CaCommand.Init.class)
public final class CaCommand implements Runnable {

    /** Exit status when the CA could not be written (files there already, no permission). */
    static final int TROUBLE = 2;

    @Spec
    private CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing subcommand: init");
    }

    /** {@code ca init}: a new CA key and self-signed certificate in a directory. */
    @Command(name = "init", mixinStandardHelpOptions = true,
            description = {"Make a new mesh CA: an ECDSA P-256 key (ca-key.pem, mode 0600) and a self-signed "
                    + "certificate (ca-cert.pem) for spiffe://TRUST_DOMAIN.",
                    "Point the proxies' proxy.identity.caDir at the directory (in a cluster: a Secret made from it)."})
    static final class Init implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(names = "--dir", paramLabel = "DIR", defaultValue = "/etc/nodemesh/ca",
                description = "Where to write ca-cert.pem and ca-key.pem (made if missing; default ${DEFAULT-VALUE}).")
        Path dir;

        @Option(names = "--trust-domain", paramLabel = "TD", defaultValue = SpiffeId.DEFAULT_TRUST_DOMAIN,
                description = "The mesh's SPIFFE trust domain (default ${DEFAULT-VALUE}).")
        String trustDomain;

        @Option(names = "--lifetime", paramLabel = "DURATION", defaultValue = "3650d",
                converter = DurationConverter.class,
                description = "How long the CA is valid: a number and ms, s, m, h or d (default ${DEFAULT-VALUE}).")
        Duration lifetime;

        @Option(names = "--force", description = "Replace a CA already in DIR (every workload certificate it issued "
                + "stops being trusted).")
        boolean force;

        @Override
        public Integer call() {
            MeshCa ca;
            try {
                ca = MeshCa.create(trustDomain, lifetime);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), e.getMessage());
            }
            try {
                ca.write(dir, force);
            } catch (IdentityException e) {
                PrintWriter err = spec.commandLine().getErr();
                err.println("nodemesh ca init: " + e.getMessage());
                err.flush();
                return TROUBLE;
            }
            PrintWriter out = spec.commandLine().getOut();
            out.printf("wrote a mesh CA for trust domain %s to %s%n", trustDomain, dir.toAbsolutePath());
            out.printf("  %s  certificate, valid until %s%n", MeshCa.CERT_FILE, ca.certificate().getNotAfter().toInstant());
            out.printf("  %s   private key (mode 0600: keep it secret)%n", MeshCa.KEY_FILE);
            out.printf("SHA-256 fingerprint: %s%n", ca.fingerprint());
            out.flush();
            return 0;
        }
    }
}
