package io.nodemesh.testing.cni;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import io.nodemesh.testing.OwnThreads;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * Plays the container runtime for one conflist, the way libcni ({@code AddNetworkList}, {@code DelNetworkList},
 * {@code CheckNetworkList}) and so containerd's and CRI-O's CRI do: each plugin is the executable named by its
 * {@code type}, found in the bin directories ({@code CNI_PATH}), run with {@code CNI_COMMAND}, {@code CNI_CONTAINERID},
 * {@code CNI_NETNS}, {@code CNI_IFNAME}, {@code CNI_ARGS} (kubelet's {@code IgnoreUnknown=1;K8S_POD_NAMESPACE=…;
 * K8S_POD_NAME=…;K8S_POD_INFRA_CONTAINER_ID=…;K8S_POD_UID=…}) and {@code CNI_PATH} added to the runtime's own
 * environment, and its configuration on stdin: the plugin's object from the list with {@code name} and
 * {@code cniVersion} of the list and {@code prevResult} injected (libcni's {@code buildOneConfig}; no
 * {@code runtimeConfig}, as no capability arguments are given).
 *
 * <p>ADD runs the plugins in order, each with the previous one's result (none for the first), and keeps the last
 * result for the attachment ({@code containerId}, {@code ifname}) as libcni caches it; DEL runs them in reverse order
 * with that cached result as {@code prevResult} (from CNI 0.4.0 on) and forgets it on success; CHECK runs them in
 * order with it (0.4.0 on; never when the list says {@code disableCheck}). The first plugin that fails ends the
 * operation with its error. Each plugin gets {@link #timeout} to finish, then is killed.
 */
public final class CniRuntime {

    private static final JsonFactory JSON = new JsonFactory();

    /** A pod as kubelet names it in {@code CNI_ARGS}. */
    public record Pod(String namespace, String name, String uid) {
    }

    /** One attachment of a pod to the network: the parameters that stay the same from ADD to DEL. */
    public record Attachment(String containerId, Path netns, String ifname, Pod pod) {
        /** {@code CNI_ARGS} as kubelet's runtimes write it. */
        public String cniArgs() {
            return "IgnoreUnknown=1;K8S_POD_NAMESPACE=" + pod.namespace() + ";K8S_POD_NAME=" + pod.name()
                    + ";K8S_POD_INFRA_CONTAINER_ID=" + containerId + ";K8S_POD_UID=" + pod.uid();
        }
    }

    /** One plugin process: what it was given and what it did. {@code exitCode} is -1 when it was killed on timeout. */
    public record PluginRun(String type, String command, byte[] stdin, int exitCode, byte[] stdout, String stderr,
                            Duration took) {
        public String stdoutText() {
            return new String(stdout, StandardCharsets.UTF_8);
        }
    }

    /**
     * How an operation ended: {@code ok} with the final result's JSON (ADD; empty for DEL and CHECK), or the failing
     * plugin's CNI error ({@code code}, {@code msg}, {@code details} as it printed them; code 0 when it printed none).
     */
    public record Outcome(boolean ok, byte[] result, int code, String msg, String details, List<PluginRun> runs) {
        public String resultText() {
            return new String(result, StandardCharsets.UTF_8);
        }

        /** The run that ended the operation (the failing one, or the last). */
        public PluginRun last() {
            return runs.getLast();
        }
    }

    private final String name;
    private final String cniVersion;
    private final boolean disableCheck;
    private final List<String> plugins;
    private final List<String> types;
    private final List<Path> binDirs;
    private final Map<String, byte[]> cachedResults = new HashMap<>();
    private Duration timeout = Duration.ofSeconds(60);
    private Map<String, String> environment = new LinkedHashMap<>(System.getenv());
    private List<String> launcherPrefix = List.of();

    /** A runtime for {@code conflist} (its JSON), finding plugins in {@code binDirs} in that order. */
    public CniRuntime(byte[] conflist, List<Path> binDirs) {
        this.binDirs = List.copyOf(binDirs);
        Map<String, Object> list = new LinkedHashMap<>();
        List<String> rawPlugins = new ArrayList<>();
        try (JsonParser parser = JSON.createParser(conflist)) {
            expect(parser.nextToken(), JsonToken.START_OBJECT, "a conflist is a JSON object");
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String key = parser.currentName();
                JsonToken value = parser.nextToken();
                if (key.equals("plugins")) {
                    expect(value, JsonToken.START_ARRAY, "plugins is an array");
                    while (parser.nextToken() == JsonToken.START_OBJECT) {
                        rawPlugins.add(copy(parser));
                    }
                } else if (value.isScalarValue()) {
                    list.put(key, value == JsonToken.VALUE_TRUE ? Boolean.TRUE : parser.getText());
                } else {
                    parser.skipChildren();
                }
            }
        } catch (IOException e) {
            throw new IllegalArgumentException("not a conflist: " + e.getMessage(), e);
        }
        this.name = String.valueOf(list.get("name"));
        this.cniVersion = String.valueOf(list.get("cniVersion"));
        this.disableCheck = Boolean.TRUE.equals(list.get("disableCheck"));
        this.plugins = List.copyOf(rawPlugins);
        this.types = rawPlugins.stream().map(p -> topLevelString(p.getBytes(StandardCharsets.UTF_8), "type")).toList();
        if (types.contains(null) || list.get("name") == null || list.get("cniVersion") == null) {
            throw new IllegalArgumentException("a conflist needs name, cniVersion and a type for every plugin");
        }
    }

    /** How long each plugin may run before it is killed (default 60 s). */
    public CniRuntime timeout(Duration perPlugin) {
        this.timeout = perPlugin;
        return this;
    }

    /**
     * The runtime's own environment, which every plugin inherits under the {@code CNI_*} variables (default: this
     * JVM's). containerd's is small: a plugin must not count on {@code JAVA_HOME} or {@code PATH} holding much.
     */
    public CniRuntime environment(Map<String, String> env) {
        this.environment = new LinkedHashMap<>(env);
        return this;
    }

    /**
     * Words put before each plugin's path, e.g. {@code nsenter --net=/var/run/netns/node --}: the plugins then run in
     * that network namespace, the test's "node", instead of this machine's (a bridge made by the bridge plugin is
     * made there).
     */
    public CniRuntime launchedWith(List<String> prefix) {
        this.launcherPrefix = List.copyOf(prefix);
        return this;
    }

    /** ADD: each plugin in order; the last result is cached for DEL and CHECK. */
    public Outcome add(Attachment attachment) {
        List<PluginRun> runs = new ArrayList<>();
        byte[] previous = null;
        for (int i = 0; i < plugins.size(); i++) {
            PluginRun run = run(i, "ADD", attachment, previous);
            runs.add(run);
            if (run.exitCode() != 0) {
                return failed(runs);
            }
            previous = run.stdout();
        }
        cachedResults.put(key(attachment), previous);
        return new Outcome(true, previous, 0, "", "", runs);
    }

    /** DEL: each plugin in reverse order, with the cached ADD result as prevResult (CNI 0.4.0 and later). */
    public Outcome del(Attachment attachment) {
        byte[] cached = cniVersion.startsWith("0.3") ? null : cachedResults.get(key(attachment));
        List<PluginRun> runs = new ArrayList<>();
        for (int i = plugins.size() - 1; i >= 0; i--) {
            PluginRun run = run(i, "DEL", attachment, cached);
            runs.add(run);
            if (run.exitCode() != 0) {
                return failed(runs);
            }
        }
        cachedResults.remove(key(attachment));
        return new Outcome(true, new byte[0], 0, "", "", runs);
    }

    /** CHECK: each plugin in order with the cached ADD result; refused as libcni refuses it (0.3.x, no result). */
    public Outcome check(Attachment attachment) {
        if (disableCheck) {
            return new Outcome(true, new byte[0], 0, "", "", List.of());
        }
        byte[] cached = cachedResults.get(key(attachment));
        if (cniVersion.startsWith("0.3") || cached == null) {
            throw new IllegalStateException(cached == null ? "no cached ADD result for " + key(attachment)
                    : "CHECK is not supported for cniVersion " + cniVersion);
        }
        List<PluginRun> runs = new ArrayList<>();
        for (int i = 0; i < plugins.size(); i++) {
            PluginRun run = run(i, "CHECK", attachment, cached);
            runs.add(run);
            if (run.exitCode() != 0) {
                return failed(runs);
            }
        }
        return new Outcome(true, new byte[0], 0, "", "", runs);
    }

    /** The request configuration the plugin at {@code index} gets (libcni's buildOneConfig). */
    public byte[] pluginConfig(int index, byte[] prevResult) {
        StringWriter out = new StringWriter();
        try (JsonParser parser = JSON.createParser(plugins.get(index));
             JsonGenerator generator = JSON.createGenerator(out)) {
            parser.nextToken();
            generator.writeStartObject();
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String key = parser.currentName();
                parser.nextToken();
                if (key.equals("name") || key.equals("cniVersion") || key.equals("prevResult")) {
                    parser.skipChildren();
                    continue;
                }
                generator.writeFieldName(key);
                generator.copyCurrentStructure(parser);
            }
            generator.writeStringField("cniVersion", cniVersion);
            generator.writeStringField("name", name);
            if (prevResult != null) {
                generator.writeFieldName("prevResult");
                generator.writeRawValue(new String(prevResult, StandardCharsets.UTF_8).strip());
            }
            generator.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The conflist's plugin types, in order. */
    public List<String> types() {
        return types;
    }

    /**
     * Runs the plugin {@code type} once, as the runtime would, with {@code env} over the runtime's environment and
     * {@code stdin} as given: for calls no runtime makes (bad input, VERSION, STATUS).
     */
    public PluginRun invoke(String type, Map<String, String> env, byte[] stdin) {
        Map<String, String> full = new LinkedHashMap<>(environment);
        full.put("CNI_PATH", cniPath());
        full.putAll(env);
        return exec(type, env.getOrDefault("CNI_COMMAND", ""), full, stdin);
    }

    /** The environment of an attachment's call, as libcni's {@code Args.AsEnv} adds it. */
    public Map<String, String> cniEnvironment(String command, Attachment attachment) {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("CNI_COMMAND", command);
        env.put("CNI_CONTAINERID", attachment.containerId());
        env.put("CNI_NETNS", attachment.netns() == null ? "" : attachment.netns().toString());
        env.put("CNI_ARGS", attachment.cniArgs());
        env.put("CNI_IFNAME", attachment.ifname());
        env.put("CNI_PATH", cniPath());
        return env;
    }

    private PluginRun run(int index, String command, Attachment attachment, byte[] prevResult) {
        Map<String, String> env = new LinkedHashMap<>(environment);
        env.putAll(cniEnvironment(command, attachment));
        return exec(types.get(index), command, env, pluginConfig(index, prevResult));
    }

    private PluginRun exec(String type, String command, Map<String, String> env, byte[] stdin) {
        Path executable = find(type);
        List<String> argv = new ArrayList<>(launcherPrefix);
        argv.add(executable.toString());
        ProcessBuilder builder = new ProcessBuilder(argv);
        builder.environment().clear();
        builder.environment().putAll(env);
        long start = System.nanoTime();
        Process process;
        try {
            process = builder.start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + executable, e);
        }
        // stdin is written beside the reads: a plugin may refuse a large input and exit before reading it all.
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try (OutputStream in = process.getOutputStream()) {
                in.write(stdin);
            } catch (IOException e) {
                // the plugin closed its stdin (EPIPE): it answers with what it read
            }
        }, OwnThreads.EACH);
        CompletableFuture<byte[]> stdout = CompletableFuture.supplyAsync(() -> readAll(process.getInputStream()),
                OwnThreads.EACH);
        CompletableFuture<byte[]> stderr = CompletableFuture.supplyAsync(() -> readAll(process.getErrorStream()),
                OwnThreads.EACH);
        int exit;
        try {
            if (process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                exit = process.exitValue();
            } else {
                process.destroyForcibly().waitFor();
                exit = -1;
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            writer.join();
            return new PluginRun(type, command, stdin, exit, stdout.join(),
                    new String(stderr.join(), StandardCharsets.UTF_8), took);
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while " + type + " ran", e);
        }
    }

    private Path find(String type) {
        for (Path dir : binDirs) {
            Path candidate = dir.resolve(type);
            if (Files.isExecutable(candidate) && !Files.isDirectory(candidate)) {
                return candidate;
            }
        }
        throw new IllegalStateException("no executable " + type + " in " + binDirs);
    }

    private String cniPath() {
        return String.join(":", binDirs.stream().map(Path::toString).toList());
    }

    private static Outcome failed(List<PluginRun> runs) {
        PluginRun run = runs.getLast();
        int code = 0;
        String msg = run.exitCode() == -1 ? "plugin " + run.type() + " timed out" : "";
        String details = "";
        try (JsonParser parser = JSON.createParser(run.stdout())) {
            if (parser.nextToken() == JsonToken.START_OBJECT) {
                while (parser.nextToken() == JsonToken.FIELD_NAME) {
                    String key = parser.currentName();
                    parser.nextToken();
                    switch (key) {
                        case "code" -> code = parser.getIntValue();
                        case "msg" -> msg = parser.getText();
                        case "details" -> details = parser.getText();
                        default -> parser.skipChildren();
                    }
                }
            }
        } catch (IOException e) {
            msg = "netplugin failed but its output is not an error object: " + run.stdoutText();
        }
        return new Outcome(false, run.stdout(), code, msg, details, runs);
    }

    private static String key(Attachment attachment) {
        return attachment.containerId() + "/" + attachment.ifname();
    }

    private static String copy(JsonParser parser) throws IOException {
        StringWriter out = new StringWriter();
        try (JsonGenerator generator = JSON.createGenerator(out)) {
            generator.copyCurrentStructure(parser);
        }
        return out.toString();
    }

    private static String topLevelString(byte[] json, String field) {
        try (JsonParser parser = JSON.createParser(json)) {
            parser.nextToken();
            while (parser.nextToken() == JsonToken.FIELD_NAME) {
                String key = parser.currentName();
                JsonToken value = parser.nextToken();
                if (key.equals(field) && value == JsonToken.VALUE_STRING) {
                    return parser.getText();
                }
                parser.skipChildren();
            }
            return null;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void expect(JsonToken actual, JsonToken expected, String what) throws IOException {
        if (actual != expected) {
            throw new IOException(what + ", found " + actual);
        }
    }

    private static byte[] readAll(InputStream in) {
        try (in) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            in.transferTo(out);
            return out.toByteArray();
        } catch (IOException e) {
            return new byte[0];
        }
    }
}
