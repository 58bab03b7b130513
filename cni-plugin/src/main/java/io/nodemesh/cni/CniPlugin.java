package io.nodemesh.cni;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The nodemesh CNI plugin, chained last in the node's conflist: {@code CNI_*} from the environment, the configuration
 * on stdin, a result or an error object on stdout, a non-zero exit on error (docs/cni.md). One fresh JVM per call,
 * so the path of a pod that is passed through touches no native code and no socket.
 */
public final class CniPlugin {

    /** The largest configuration read from stdin; more is refused before it is all read. */
    static final int MAX_CONFIG_BYTES = 1 << 20;

    private final Commands commands;

    CniPlugin(ProxyClient proxy, ProxyClient.Namespaces namespaces) {
        this.commands = new Commands(proxy, namespaces);
    }

    public static void main(String[] args) {
        JniControlSocket socket = new JniControlSocket();
        int status = new CniPlugin(socket, socket).run(System.getenv(), System.in, System.out, System.err);
        System.out.flush();
        if (status != 0) {
            System.exit(status);
        }
    }

    /** Runs one call as the runtime made it; returns the exit status. */
    int run(Map<String, String> env, InputStream stdin, PrintStream stdout, PrintStream stderr) {
        long started = System.nanoTime();
        String command = null;
        String cniVersion = PluginConfig.LATEST_VERSION;
        Invocation call = null;
        PluginConfig config = null;
        try {
            command = Invocation.command(env);
            byte[] input = readConfig(stdin);
            if (command.equals("VERSION")) {
                printVersion(input, stdout);
                return 0;
            }
            config = PluginConfig.parse(input, command);
            cniVersion = config.cniVersion();
            Commands.Outcome outcome = switch (command) {
                case "ADD" -> commands.add(call = Invocation.of(command, env), config);
                case "DEL" -> commands.del(call = Invocation.of(command, env), config);
                case "CHECK" -> commands.check(call = Invocation.of(command, env), config);
                case "STATUS" -> commands.status(config);
                // nodemesh-cni keeps no state per attachment: the proxy releases pods that are gone from its view.
                default -> new Commands.Outcome(null, "ready", "");
            };
            if (outcome.print() != null) {
                stdout.writeBytes(Json.write(outcome.print()));
                stdout.flush();
            }
            remember(command, config, call, outcome.result(), outcome.detail(), null, started, stderr);
            return 0;
        } catch (CniError e) {
            return fail(e, cniVersion, command, config, call, started, stdout, stderr);
        } catch (RuntimeException e) {
            CniError internal = new CniError(CniError.INTERNAL, "nodemesh-cni failed", e.toString()
                    + Arrays.stream(e.getStackTrace()).limit(5).map(f -> " at " + f).reduce("", String::concat));
            return fail(internal, cniVersion, command, config, call, started, stdout, stderr);
        }
    }

    private static int fail(CniError error, String cniVersion, String command, PluginConfig config, Invocation call,
                            long started, PrintStream stdout, PrintStream stderr) {
        stdout.writeBytes(Json.write(error.toJson(cniVersion)));
        stdout.flush();
        stderr.println("nodemesh-cni: " + (command == null ? "" : command + ": ") + error.getMessage()
                + (error.details() == null ? "" : ": " + error.details()));
        if (config != null) {
            remember(command, config, call, "error", null, error, started, stderr);
        }
        return 1;
    }

    private static void remember(String command, PluginConfig config, Invocation call, String result, String detail,
                                 CniError error, long started, PrintStream stderr) {
        if (!command.equals("ADD") && !command.equals("DEL") && !command.equals("CHECK")) {
            return;
        }
        long millis = (System.nanoTime() - started) / 1_000_000;
        String problem = LastCall.write(config.stateDir(), command, call, result, detail, error, millis);
        if (problem != null) {
            stderr.println("nodemesh-cni: " + problem);
        }
    }

    private static void printVersion(byte[] input, PrintStream stdout) {
        String version = PluginConfig.LATEST_VERSION;
        try {
            if (input.length > 0 && Json.parseObject(input).get("cniVersion") instanceof String asked
                    && PluginConfig.SUPPORTED_VERSIONS.contains(asked)) {
                version = asked;
            }
        } catch (Json.JsonException e) {
            // VERSION answers whatever came on stdin
        }
        Map<String, Object> reply = new LinkedHashMap<>();
        reply.put("cniVersion", version);
        reply.put("supportedVersions", PluginConfig.SUPPORTED_VERSIONS);
        stdout.writeBytes(Json.write(reply));
        stdout.flush();
    }

    /** Reads stdin up to {@link #MAX_CONFIG_BYTES}; one byte more is error 7, without reading the rest. */
    static byte[] readConfig(InputStream stdin) throws CniError {
        byte[] buffer = new byte[8192];
        int length = 0;
        try {
            while (true) {
                if (length == buffer.length) {
                    if (length > MAX_CONFIG_BYTES) {
                        throw new CniError(CniError.INVALID_CONFIG, "the network configuration is too large",
                                "nodemesh-cni reads at most " + MAX_CONFIG_BYTES + " bytes from stdin");
                    }
                    buffer = Arrays.copyOf(buffer, Math.min(buffer.length * 2, MAX_CONFIG_BYTES + 1));
                }
                int n = stdin.read(buffer, length, buffer.length - length);
                if (n < 0) {
                    return Arrays.copyOf(buffer, length);
                }
                length += n;
            }
        } catch (IOException e) {
            throw new CniError(CniError.IO_FAILURE, "cannot read the network configuration from stdin", e.toString());
        }
    }
}
