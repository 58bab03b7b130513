package io.nodemesh.proxy.handoff;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.nodemesh.proxy.discovery.MeshSnapshot;
import io.nodemesh.proxy.discovery.NamespaceSpec;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.TreeSet;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node-local record of which namespaces are enrolled, for the CNI plugin (docs/cni.md): it lets the plugin pass
 * a pod of any other namespace through without asking the proxy, so such pods start even while the proxy is down.
 * Written atomically (a temporary file renamed over it, so a reader sees the old or the new, never half of one) when
 * the set changes; on the control thread.
 */
public final class EnrolmentFile {

    private static final Logger log = LoggerFactory.getLogger(EnrolmentFile.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path path;
    private List<String> written;
    private long generation;

    public EnrolmentFile(Path path) {
        this.path = path;
    }

    /** Where it is written. */
    public Path path() {
        return path;
    }

    /** Writes the namespaces {@code snapshot} enrols, if they differ from the last written. */
    public void update(MeshSnapshot snapshot) {
        TreeSet<String> enrolled = new TreeSet<>();
        for (NamespaceSpec ns : snapshot.namespaces().values()) {
            if (ns.enrolled()) {
                enrolled.add(ns.name());
            }
        }
        List<String> now = List.copyOf(enrolled);
        if (now.equals(written)) {
            return;
        }
        ObjectNode out = JSON.createObjectNode();
        out.put("version", 1);
        out.put("generation", generation + 1);
        ArrayNode names = out.putArray("enrolledNamespaces");
        now.forEach(names::add);
        try {
            write(JSON.writeValueAsBytes(out));
            generation++;
            written = now;
            log.info("enrolled namespaces written to {}: {}", path, now);
        } catch (IOException e) {
            // Left as it was: the plugin then decides on the last set written (or fails closed without one).
            log.error("cannot write the enrolled namespaces to {}: {}", path, e.toString());
        }
    }

    private void write(byte[] bytes) throws IOException {
        Path dir = path.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, "." + path.getFileName() + ".", ".tmp");
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                ch.write(java.nio.ByteBuffer.wrap(bytes));
                ch.force(true);
            }
            Files.setPosixFilePermissions(tmp, java.nio.file.attribute.PosixFilePermissions.fromString("rw-r--r--"));
            Files.move(tmp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
