package io.nodemesh.proxy.config;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.regex.Pattern;

/**
 * The one reader and writer of socket addresses as people type and read them: {@code 127.0.0.1:15000},
 * {@code [::1]:15000}. Used by the config file, every command-line option that takes HOST:PORT, the load tools
 * and the log lines. Literal addresses only, never a name lookup; IPv6 always in brackets, written in its short
 * form (RFC 5952, {@code [::]:15020}, the same text as Netty's {@code NetUtil.toSocketAddressString}, which the
 * telemetry agent uses because it does not depend on this module). Loads no Netty class, so the CLI's quick
 * commands stay quick.
 */
public final class HostPort {

    private static final Pattern DOTTED_QUAD = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

    private HostPort() {
    }

    /**
     * Parses {@code HOST:PORT} or {@code [V6]:PORT} with a literal IP address.
     *
     * @throws IllegalArgumentException naming the text and what is wrong with it
     */
    public static InetSocketAddress parse(String text) {
        String s = text.strip();
        int colon = s.lastIndexOf(':');
        if (colon <= 0 || colon == s.length() - 1) {
            throw new IllegalArgumentException("'" + text + "' is not HOST:PORT (e.g. 127.0.0.1:15000 or [::1]:15000)");
        }
        String host = s.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (host.contains(":")) {
            throw new IllegalArgumentException("'" + text + "': an IPv6 address needs brackets, e.g. [fd77::3]:9000");
        }
        int port;
        try {
            port = Integer.parseInt(s.substring(colon + 1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("'" + text + "' has no numeric port");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("'" + text + "': port " + port + " is out of range (0-65535)");
        }
        try {
            return new InetSocketAddress(literal(host), port);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("'" + text + "': '" + host + "' is not an IP address");
        }
    }

    /**
     * A literal IPv4 (dotted quad only: Java would also take {@code 10.1} or {@code 1.2.3}) or IPv6
     * address; never a name lookup.
     */
    public static InetAddress literal(String text) {
        if (!text.contains(":") && !DOTTED_QUAD.matcher(text).matches()) {
            throw new IllegalArgumentException(text);
        }
        return InetAddress.ofLiteral(text);
    }

    /** {@code 127.0.0.1:15000}, {@code [::]:15020}, {@code [fd77::3]:8080}: what {@link #parse} reads back. */
    public static String format(InetSocketAddress address) {
        InetAddress ip = address.getAddress();
        if (ip == null) {
            String host = address.getHostString();
            return (host.contains(":") ? "[" + host + "]" : host) + ":" + address.getPort();
        }
        return (ip instanceof Inet6Address v6 ? "[" + shortForm(v6) + "]" : ip.getHostAddress()) + ":" + address.getPort();
    }

    /** RFC 5952: lower-case hex, no leading zeros, the longest run of two or more zero groups as "::". */
    static String shortForm(Inet6Address address) {
        byte[] b = address.getAddress();
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
        }
        int bestStart = -1;
        int bestLength = 1;
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLength) {
                bestStart = i;
                bestLength = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder text = new StringBuilder(39);
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                text.append("::");
                i += bestLength - 1;
                continue;
            }
            if (!text.isEmpty() && text.charAt(text.length() - 1) != ':') {
                text.append(':');
            }
            text.append(Integer.toHexString(groups[i]));
        }
        return text.toString();
    }
}
