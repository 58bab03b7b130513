package io.nodemesh.telemetry.report;

import io.nodemesh.telemetry.v1.Address;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * The two ends' addresses of a connection record, whichever form its reporter used: the flat fields
 * ({@code source_ipv4}, {@code source_ipv6_high/low}, {@code source_port}, and the destination's) or the nested
 * {@code Address} messages of reporters before them.
 */
public final class Endpoints {

    private Endpoints() {
    }

    /** The source as {@code ip:port} ({@code [ip]:port} for IPv6), or "" when the record does not know it. */
    public static String source(ConnectionRecord r) {
        if (r.hasSourceAddress()) {
            return format(r.getSourceAddress());
        }
        return format(r.getSourceIpv4(), r.getSourceIpv6High(), r.getSourceIpv6Low(), r.getSourcePort());
    }

    /** The destination as {@code ip:port} ({@code [ip]:port} for IPv6), or "" when the record does not know it. */
    public static String destination(ConnectionRecord r) {
        if (r.hasDestinationAddress()) {
            return format(r.getDestinationAddress());
        }
        return format(r.getDestinationIpv4(), r.getDestinationIpv6High(), r.getDestinationIpv6Low(),
                r.getDestinationPort());
    }

    /** The first thing wrong with the record's addresses, naming the field, or null. */
    static String problem(ConnectionRecord r) {
        boolean flatSource = r.getSourceIpv4() != 0 || r.getSourceIpv6High() != 0 || r.getSourceIpv6Low() != 0
                || r.getSourcePort() != 0;
        boolean flatDestination = r.getDestinationIpv4() != 0 || r.getDestinationIpv6High() != 0
                || r.getDestinationIpv6Low() != 0;
        if (r.hasSourceAddress() && flatSource) {
            return "source_address: set either it or source_ipv4/source_ipv6_*/source_port, not both";
        }
        if (r.hasDestinationAddress() && flatDestination) {
            return "destination_address: set either it or destination_ipv4/destination_ipv6_*, not both";
        }
        String problem = r.hasSourceAddress() ? nested("source_address", r.getSourceAddress())
                : flat("source", r.getSourceIpv4(), r.getSourceIpv6High(), r.getSourceIpv6Low());
        if (problem == null) {
            problem = port("source_port", r.getSourcePort());
        }
        if (problem == null) {
            problem = r.hasDestinationAddress() ? nested("destination_address", r.getDestinationAddress())
                    : flat("destination", r.getDestinationIpv4(), r.getDestinationIpv6High(), r.getDestinationIpv6Low());
        }
        return problem;
    }

    private static String nested(String field, Address address) {
        int length = address.getIp().size();
        if (length != 0 && length != 4 && length != 16) {
            return field + ".ip: " + length + " bytes is neither IPv4 (4) nor IPv6 (16)";
        }
        return port(field + ".port", address.getPort());
    }

    /** Null if {@code port} (a uint32 on the wire) is a TCP port, else what is wrong with {@code field}. */
    static String port(String field, int port) {
        return port >= 0 && port <= 65_535 ? null : field + ": " + Integer.toUnsignedString(port) + " is not a port";
    }

    private static String flat(String end, int ipv4, long ipv6High, long ipv6Low) {
        return ipv4 != 0 && (ipv6High != 0 || ipv6Low != 0)
                ? end + "_ipv4 and " + end + "_ipv6_*: an end has one address, not both families" : null;
    }

    private static String format(Address address) {
        byte[] ip = address.getIp().toByteArray();
        return ip.length == 0 ? "" : format(ip, address.getPort());
    }

    private static String format(int ipv4, long ipv6High, long ipv6Low, int port) {
        if (ipv4 != 0) {
            return format(new byte[] {(byte) (ipv4 >>> 24), (byte) (ipv4 >>> 16), (byte) (ipv4 >>> 8), (byte) ipv4}, port);
        }
        if (ipv6High == 0 && ipv6Low == 0) {
            return "";
        }
        byte[] ip = new byte[16];
        for (int i = 0; i < 8; i++) {
            ip[i] = (byte) (ipv6High >>> (56 - 8 * i));
            ip[8 + i] = (byte) (ipv6Low >>> (56 - 8 * i));
        }
        return format(ip, port);
    }

    private static String format(byte[] ip, int port) {
        try {
            String host = InetAddress.getByAddress(ip).getHostAddress();
            return (ip.length == 16 ? "[" + host + "]" : host) + ":" + Integer.toUnsignedString(port);
        } catch (UnknownHostException e) {
            return ""; // unreachable: the validator lets only 4- and 16-byte addresses through
        }
    }
}
