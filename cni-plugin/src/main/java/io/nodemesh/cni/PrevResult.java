package io.nodemesh.cni;

import java.net.Inet4Address;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The result of the plugins before this one, which a chained plugin prints as its own: this plugin changes nothing in
 * it, so it prints it as it came, in the configuration's {@code cniVersion} (the spec's rule for every result). Only
 * a {@code prevResult} of another version is rewritten: 0.3.x and 0.4.0 write {@code ips[].version}, 1.x does not.
 */
final class PrevResult {

    private PrevResult() {
    }

    /** The result this plugin prints for {@code prevResult} under {@code cniVersion}. */
    static Map<String, Object> asVersion(Map<String, Object> prevResult, String cniVersion) throws CniError {
        Object own = prevResult.get("cniVersion");
        if (cniVersion.equals(own)) {
            return prevResult;
        }
        if (own != null && !PluginConfig.SUPPORTED_VERSIONS.contains(own)) {
            throw new CniError(CniError.INCOMPATIBLE_VERSION, "incompatible CNI version of prevResult",
                    "prevResult has cniVersion " + own + "; nodemesh-cni supports "
                            + String.join(", ", PluginConfig.SUPPORTED_VERSIONS));
        }
        Map<String, Object> result = new LinkedHashMap<>(prevResult);
        result.put("cniVersion", cniVersion);
        if (result.get("ips") instanceof List<?> ips) {
            boolean versioned = !cniVersion.startsWith("1.");
            List<Object> rewritten = new ArrayList<>();
            for (Object item : ips) {
                if (item instanceof Map<?, ?> ip) {
                    Map<String, Object> copy = new LinkedHashMap<>();
                    ip.forEach((k, v) -> copy.put((String) k, v));
                    if (!versioned) {
                        copy.remove("version");
                    } else if (!copy.containsKey("version") && copy.get("address") instanceof String address) {
                        copy.put("version", address.contains(":") ? "6" : "4");
                    }
                    rewritten.add(copy);
                } else {
                    rewritten.add(item);
                }
            }
            result.put("ips", rewritten);
        }
        return result;
    }

    /**
     * The pod's addresses: every {@code ips[].address}, an IP with its prefix length ({@code 10.88.0.5/16}), in the
     * order the result lists them (the same in 0.3.1, 0.4.0 and 1.x). Anything else is an invalid configuration.
     */
    static List<String> addresses(Map<String, Object> prevResult) throws CniError {
        Object ips = prevResult.get("ips");
        if (ips == null) {
            return List.of();
        }
        if (!(ips instanceof List<?> list)) {
            throw invalid("prevResult.ips must be an array, not " + Json.kind(ips));
        }
        List<String> addresses = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof Map<?, ?> ip) || !(ip.get("address") instanceof String address)) {
                throw invalid("prevResult.ips[" + i + "] has no address");
            }
            addresses.add(cidr(address, "prevResult.ips[" + i + "].address"));
        }
        return addresses;
    }

    private static String cidr(String text, String where) throws CniError {
        int slash = text.indexOf('/');
        try {
            if (slash > 0) {
                InetAddress address = InetAddress.ofLiteral(text.substring(0, slash));
                int prefix = Integer.parseInt(text.substring(slash + 1));
                if (prefix >= 0 && prefix <= (address instanceof Inet4Address ? 32 : 128)) {
                    return text;
                }
            }
        } catch (IllegalArgumentException e) {
            // not an address or not a number: said below
        }
        throw invalid(where + " \"" + text + "\" is not an IP address with a prefix length");
    }

    private static CniError invalid(String details) {
        return new CniError(CniError.INVALID_CONFIG, "invalid prevResult", details);
    }
}
