package io.nodemesh.rules;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.util.regex.Pattern;

/**
 * An IPv4 or IPv6 network in canonical form (as {@code inet_ntop} prints it, which is what
 * {@code iptables-save} and {@code nft list} show), so rendered rules compare equal to live ones.
 *
 * @param family the IP family
 * @param address the canonical network address, e.g. {@code 10.0.0.0} or {@code fd00::}
 * @param prefixLength the prefix length, 0..32 or 0..128
 */
public record Cidr(IpFamily family, String address, int prefixLength) {

    private static final Pattern DOTTED_QUAD = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    /**
     * Parses {@code a.b.c.d[/n]} or {@code v6addr[/n]}; a missing prefix means a single host.
     * Host bits must be zero. Never touches DNS.
     *
     * @throws RulesException naming the value and what is wrong with it
     */
    public static Cidr parse(String text) {
        if (text == null || text.isBlank()) {
            throw new RulesException("'" + text + "' is not a CIDR (expected e.g. 10.0.0.0/8 or fd00::/8)");
        }
        String trimmed = text.strip();
        int slash = trimmed.indexOf('/');
        String addressText = slash < 0 ? trimmed : trimmed.substring(0, slash);
        byte[] bytes = parseAddress(addressText, text);
        int maxPrefix = bytes.length * 8;
        int prefix = maxPrefix;
        if (slash >= 0) {
            String prefixText = trimmed.substring(slash + 1);
            if (!prefixText.matches("\\d{1,3}") || Integer.parseInt(prefixText) > maxPrefix) {
                throw new RulesException("'" + text + "' is not a valid CIDR: prefix length must be 0.." + maxPrefix);
            }
            prefix = Integer.parseInt(prefixText);
        }
        byte[] network = bytes.clone();
        for (int bit = prefix; bit < maxPrefix; bit++) {
            network[bit / 8] &= (byte) ~(0x80 >>> (bit % 8));
        }
        IpFamily family = bytes.length == 4 ? IpFamily.IPV4 : IpFamily.IPV6;
        String canonical = format(network);
        if (!java.util.Arrays.equals(bytes, network)) {
            throw new RulesException("'" + text + "' is not a valid CIDR: it has host bits set (did you mean "
                    + canonical + "/" + prefix + "?)");
        }
        return new Cidr(family, canonical, prefix);
    }

    /** The form {@code iptables-save} prints: always with the prefix length. */
    public String iptablesForm() {
        return address + "/" + prefixLength;
    }

    /** The form {@code nft list} prints: a single host without the prefix length. */
    public String nftForm() {
        return prefixLength == (family == IpFamily.IPV4 ? 32 : 128) ? address : address + "/" + prefixLength;
    }

    @Override
    public String toString() {
        return iptablesForm();
    }

    private static byte[] parseAddress(String addressText, String original) {
        if (DOTTED_QUAD.matcher(addressText).matches()) {
            byte[] bytes = new byte[4];
            String[] parts = addressText.split("\\.");
            for (int i = 0; i < 4; i++) {
                int octet = Integer.parseInt(parts[i]);
                if (octet > 255) {
                    throw new RulesException("'" + original + "' is not a valid CIDR: octet " + octet + " > 255");
                }
                bytes[i] = (byte) octet;
            }
            return bytes;
        }
        if (addressText.contains(":") && !addressText.contains("%")) {
            try {
                // ofLiteral parses literals only: no name resolution can happen here.
                InetAddress address = Inet6Address.ofLiteral(addressText);
                byte[] bytes = address.getAddress();
                if (bytes.length == 16) {
                    return bytes;
                }
                // The JDK turns ::ffff:a.b.c.d into an IPv4 address; such traffic is IPv4 on the wire anyway.
                throw new RulesException("'" + original + "' is not a valid CIDR: IPv4-mapped IPv6 addresses are "
                        + "not supported, use the IPv4 form");
            } catch (IllegalArgumentException e) {
                // fall through to the common message
            }
        }
        throw new RulesException("'" + original + "' is not a valid CIDR: '" + addressText
                + "' is not an IPv4 or IPv6 address literal");
    }

    private static String format(byte[] bytes) {
        if (bytes.length == 4) {
            return (bytes[0] & 0xff) + "." + (bytes[1] & 0xff) + "." + (bytes[2] & 0xff) + "." + (bytes[3] & 0xff);
        }
        return formatV6(bytes);
    }

    /** RFC 5952 text exactly as glibc's inet_ntop writes it, including its embedded-IPv4 forms. */
    private static String formatV6(byte[] bytes) {
        int[] words = new int[8];
        for (int i = 0; i < 8; i++) {
            words[i] = ((bytes[2 * i] & 0xff) << 8) | (bytes[2 * i + 1] & 0xff);
        }
        int bestBase = -1;
        int bestLen = 0;
        for (int i = 0; i < 8; ) {
            if (words[i] != 0) {
                i++;
                continue;
            }
            int start = i;
            while (i < 8 && words[i] == 0) {
                i++;
            }
            if (i - start > bestLen) {
                bestBase = start;
                bestLen = i - start;
            }
        }
        if (bestLen < 2) {
            bestBase = -1;
        }
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
                if (i == bestBase) {
                    out.append(':');
                }
                continue;
            }
            if (i != 0) {
                out.append(':');
            }
            if (i == 6 && bestBase == 0 && (bestLen == 6 || (bestLen == 5 && words[5] == 0xffff))) {
                out.append(bytes[12] & 0xff).append('.').append(bytes[13] & 0xff).append('.')
                        .append(bytes[14] & 0xff).append('.').append(bytes[15] & 0xff);
                return out.toString();
            }
            out.append(Integer.toHexString(words[i]));
        }
        if (bestBase >= 0 && bestBase + bestLen == 8) {
            out.append(':');
        }
        return out.toString();
    }
}
