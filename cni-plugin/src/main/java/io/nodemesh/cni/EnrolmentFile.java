package io.nodemesh.cni;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The node's enrolled namespaces as the proxy last published them ({@code enrolment.json}, written atomically by the
 * proxy): how the plugin knows, without asking the proxy, that a pod may start uncaptured. No file means the proxy
 * has not published since boot (the run directory is a tmpfs), and then the plugin cannot know.
 */
final class EnrolmentFile {

    /** The one format version this plugin reads. */
    static final long VERSION = 1;
    /** Far more than any enrolment: a namespace name is at most 63 bytes. */
    private static final long MAX_BYTES = 4 << 20;

    private EnrolmentFile() {
    }

    /** The enrolled namespaces, or error 11 (try again later) when the file is missing, unreadable or not understood. */
    static Set<String> enrolledNamespaces(Path file) throws CniError {
        byte[] bytes;
        try {
            if (Files.size(file) > MAX_BYTES) {
                throw unknown(file, "it is larger than " + MAX_BYTES + " bytes");
            }
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw unknown(file, "it does not exist: the nodemesh proxy has not published enrolment on this node since boot");
        } catch (IOException e) {
            throw unknown(file, "it cannot be read: " + e);
        }
        try {
            Map<String, Object> enrolment = Json.parseObject(bytes);
            if (!(enrolment.get("version") instanceof Long version) || version != VERSION) {
                throw unknown(file, "its version is " + enrolment.get("version") + ", this plugin reads version " + VERSION);
            }
            if (enrolment.get("enrolledNamespaces") instanceof List<?> names
                    && names.stream().allMatch(String.class::isInstance)) {
                return Set.copyOf(names.stream().map(String.class::cast).toList());
            }
            throw unknown(file, "it has no array of strings enrolledNamespaces");
        } catch (Json.JsonException e) {
            throw unknown(file, "it is not JSON: " + e.getMessage());
        }
    }

    private static CniError unknown(Path file, String why) {
        return new CniError(CniError.TRY_AGAIN_LATER, "enrolment unknown: cannot tell whether this pod may start uncaptured",
                "the enrolment file " + file + " tells which namespaces the nodemesh proxy captures, but " + why);
    }
}
