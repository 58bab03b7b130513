package io.nodemesh.cni;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code <stateDir>/cni-last-<COMMAND>.json}: how the last ADD, DEL or CHECK on this node ended, for
 * {@code nodemesh cni status}. Written atomically (a temporary file renamed over it); a failure to write it is said on
 * stderr and never fails the call.
 */
final class LastCall {

    private LastCall() {
    }

    /** Writes the file; {@code error} is {@code null} on success. Returns why it could not, or {@code null}. */
    static String write(Path stateDir, String command, Invocation call, String result, String detail, CniError error,
                        long millis) {
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("command", command);
        state.put("pod", call == null || call.pod() == null ? "" : call.pod().toString());
        state.put("containerId", call == null ? "" : call.containerId());
        state.put("result", error == null ? result : "error");
        if (error != null) {
            state.put("error", error.getMessage() + (error.details() == null ? "" : ": " + error.details()));
            state.put("code", (long) error.code());
        } else if (detail != null && !detail.isEmpty()) {
            state.put("detail", detail);
        }
        state.put("at", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        state.put("millis", millis);
        Path file = stateDir.resolve("cni-last-" + command + ".json");
        Path temporary = stateDir.resolve(".cni-last-" + command + ".json." + ProcessHandle.current().pid());
        try {
            Files.createDirectories(stateDir);
            Files.write(temporary, Json.writePretty(state));
            Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            return null;
        } catch (IOException | RuntimeException e) {
            try {
                Files.deleteIfExists(temporary);
            } catch (IOException ignored) {
                // the reason below is what matters
            }
            return "cannot write " + file + ": " + e;
        }
    }
}
