package io.nodemesh.rules;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * What to capture in one pod's network namespace: the ports outbound and inbound TCP is
 * redirected to and everything that is exempt (the proxy's mark, loopback, the proxy's own
 * ports, configured ports and CIDRs). Immutable; built and validated by {@link Builder}.
 */
public final class RedirectPlan {

    /** Default outbound capture port. */
    public static final int DEFAULT_OUTBOUND_PORT = 15001;
    /** Default inbound (plaintext) capture port. */
    public static final int DEFAULT_INBOUND_PORT = 15006;
    /** Default packet mark the proxy puts on its own sockets (SO_MARK). */
    public static final int DEFAULT_MARK = 0x539;
    /** Default mask: only these mark bits are compared, so other users of the mark keep theirs. */
    public static final int DEFAULT_MARK_MASK = 0xfff;
    /** Default mark of outbound packets a {@link CaptureMode#TPROXY} capture routes to the proxy (within the mask). */
    public static final int DEFAULT_TPROXY_MARK = 0x53a;
    /** Default routing table of a {@link CaptureMode#TPROXY} capture's policy route ({@code local default dev lo}). */
    public static final int DEFAULT_ROUTE_TABLE = 133;
    /** The proxy's well-known ports (admin, capture, tunnel, metrics, readiness), never redirected inbound. */
    public static final List<Integer> PROXY_PORTS = List.of(15000, 15001, 15006, 15008, 15020, 15021);

    // Goes into rule comments unquoted-safe: no spaces, quotes or backslashes.
    private static final Pattern POD_LABEL = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._/-]{0,200}");

    private final String podLabel;
    private final int outboundPort;
    private final int inboundPort;
    private final int mark;
    private final int markMask;
    private final SortedSet<Integer> exemptOutboundPorts;
    private final SortedSet<Integer> exemptInboundPorts;
    private final List<Cidr> exemptCidrs;
    private final Set<IpFamily> families;
    private final CaptureMode capture;
    private final int tproxyMark;
    private final int routeTable;

    private RedirectPlan(Builder b, List<Cidr> cidrs) {
        this.podLabel = b.podLabel;
        this.outboundPort = b.outboundPort;
        this.inboundPort = b.inboundPort;
        this.mark = b.mark;
        this.markMask = b.markMask;
        TreeSet<Integer> outbound = new TreeSet<>(b.exemptOutboundPorts);
        if (b.capture == CaptureMode.TPROXY) {
            // A connection the listener accepts for this port was not handed to it by tproxy (it cannot tell them
            // apart: both keep their destination), so outbound TCP to the port is not captured.
            outbound.add(b.outboundPort);
        }
        this.exemptOutboundPorts = Collections.unmodifiableSortedSet(outbound);
        TreeSet<Integer> inbound = new TreeSet<>(PROXY_PORTS);
        inbound.add(b.outboundPort);
        inbound.add(b.inboundPort);
        inbound.addAll(b.exemptInboundPorts);
        this.exemptInboundPorts = Collections.unmodifiableSortedSet(inbound);
        this.exemptCidrs = List.copyOf(cidrs);
        this.families = Collections.unmodifiableSet(EnumSet.copyOf(b.families));
        this.capture = b.capture;
        this.tproxyMark = b.tproxyMark;
        this.routeTable = b.routeTable;
    }

    /** A builder with every default: ports 15001/15006, mark 0x539/0xfff, IPv4 and IPv6, nothing else exempt. */
    public static Builder builder() {
        return new Builder();
    }

    /** The pod this plan is for, e.g. {@code demo/client}, used only in rule comments; empty if unnamed. */
    public String podLabel() {
        return podLabel;
    }

    /** The text of the comment on nodemesh's rules: {@code nodemesh} or {@code nodemesh <pod>}. */
    public String comment() {
        return podLabel.isEmpty() ? "nodemesh" : "nodemesh " + podLabel;
    }

    public int outboundPort() {
        return outboundPort;
    }

    public int inboundPort() {
        return inboundPort;
    }

    /** The packet mark that exempts a packet from capture when {@code (packet mark & markMask) == mark}. */
    public int mark() {
        return mark;
    }

    public int markMask() {
        return markMask;
    }

    /** Destination ports outbound TCP to which is never captured, ascending. */
    public SortedSet<Integer> exemptOutboundPorts() {
        return exemptOutboundPorts;
    }

    /** Destination ports inbound TCP to which is never captured (proxy ports included), ascending. */
    public SortedSet<Integer> exemptInboundPorts() {
        return exemptInboundPorts;
    }

    /** Destination networks outbound traffic to which is never captured, in the order given. */
    public List<Cidr> exemptCidrs() {
        return exemptCidrs;
    }

    /** The exempt networks of one family. */
    public List<Cidr> exemptCidrs(IpFamily family) {
        return exemptCidrs.stream().filter(c -> c.family() == family).toList();
    }

    /** The IP families captured (at least one). */
    public Set<IpFamily> families() {
        return families;
    }

    public boolean covers(IpFamily family) {
        return families.contains(family);
    }

    /** How captured TCP reaches the proxy. */
    public CaptureMode capture() {
        return capture;
    }

    /**
     * {@link CaptureMode#TPROXY}: the mark (under {@link #markMask()}) outbound packets get so that the policy route
     * delivers them locally.
     */
    public int tproxyMark() {
        return tproxyMark;
    }

    /** {@link CaptureMode#TPROXY}: the routing table holding {@code local default dev lo}, looked up for the mark. */
    public int routeTable() {
        return routeTable;
    }

    @Override
    public String toString() {
        return "RedirectPlan[pod=" + podLabel + ", outbound=" + outboundPort + ", inbound=" + inboundPort
                + ", mark=0x" + Integer.toHexString(mark) + "/0x" + Integer.toHexString(markMask)
                + ", exemptPorts=" + exemptOutboundPorts + ", exemptInboundPorts=" + exemptInboundPorts
                + ", exemptCidrs=" + exemptCidrs + ", families=" + families + ", capture=" + capture.configName()
                + (capture == CaptureMode.TPROXY
                        ? ", tproxyMark=0x" + Integer.toHexString(tproxyMark) + ", routeTable=" + routeTable : "")
                + "]";
    }

    /** Collects plan settings; {@link #build()} validates them all and names the first bad field. */
    public static final class Builder {
        private String podLabel = "";
        private int outboundPort = DEFAULT_OUTBOUND_PORT;
        private int inboundPort = DEFAULT_INBOUND_PORT;
        private int mark = DEFAULT_MARK;
        private int markMask = DEFAULT_MARK_MASK;
        private String markSpec;
        private final List<Integer> exemptOutboundPorts = new ArrayList<>();
        private final List<Integer> exemptInboundPorts = new ArrayList<>();
        private final List<String> exemptCidrs = new ArrayList<>();
        private final Set<IpFamily> families = EnumSet.allOf(IpFamily.class);
        private CaptureMode capture = CaptureMode.REDIRECT;
        private int tproxyMark = DEFAULT_TPROXY_MARK;
        private String tproxyMarkSpec;
        private int routeTable = DEFAULT_ROUTE_TABLE;

        private Builder() {
        }

        /** How captured TCP reaches the proxy (default {@link CaptureMode#REDIRECT}). */
        public Builder capture(CaptureMode mode) {
            this.capture = Objects.requireNonNull(mode, "capture");
            return this;
        }

        /** {@link CaptureMode#TPROXY}'s mark for outbound packets (default 0x53a; under the mask, not the mark). */
        public Builder tproxyMark(int value) {
            this.tproxyMark = value;
            this.tproxyMarkSpec = null;
            return this;
        }

        /** The same as text, hex ({@code 0x53a}) or decimal; parsed at build. */
        public Builder tproxyMark(String spec) {
            this.tproxyMarkSpec = spec;
            return this;
        }

        /** {@link CaptureMode#TPROXY}'s routing table (default 133). */
        public Builder routeTable(int table) {
            this.routeTable = table;
            return this;
        }

        /** The pod label for comments, e.g. {@code demo/client}; null or empty for none. */
        public Builder podLabel(String label) {
            this.podLabel = label == null ? "" : label;
            return this;
        }

        public Builder outboundPort(int port) {
            this.outboundPort = port;
            return this;
        }

        public Builder inboundPort(int port) {
            this.inboundPort = port;
            return this;
        }

        /** The proxy's mark value (keeps the current mask). */
        public Builder mark(int value) {
            this.mark = value;
            this.markSpec = null;
            return this;
        }

        public Builder markMask(int value) {
            this.markMask = value;
            this.markSpec = null;
            return this;
        }

        /** Mark as text, {@code VALUE} or {@code VALUE/MASK}, hex ({@code 0x539}) or decimal; parsed at build. */
        public Builder mark(String spec) {
            this.markSpec = spec;
            return this;
        }

        /** Adds an outbound destination port that is never captured. */
        public Builder exemptPort(int port) {
            exemptOutboundPorts.add(port);
            return this;
        }

        /** Adds an inbound destination port that is never captured (the proxy ports always are). */
        public Builder exemptInboundPort(int port) {
            exemptInboundPorts.add(port);
            return this;
        }

        /** Adds an outbound destination network that is never captured, IPv4 or IPv6; parsed at build. */
        public Builder exemptCidr(String cidr) {
            exemptCidrs.add(cidr);
            return this;
        }

        public Builder ipv4(boolean enabled) {
            return family(IpFamily.IPV4, enabled);
        }

        public Builder ipv6(boolean enabled) {
            return family(IpFamily.IPV6, enabled);
        }

        private Builder family(IpFamily family, boolean enabled) {
            if (enabled) {
                families.add(family);
            } else {
                families.remove(family);
            }
            return this;
        }

        /**
         * Validates and builds.
         *
         * @throws RulesException whose message names the field and the bad value
         */
        public RedirectPlan build() {
            if (!podLabel.isEmpty() && !POD_LABEL.matcher(podLabel).matches()) {
                throw new RulesException("pod: '" + podLabel + "' is not a valid pod label "
                        + "(letters, digits, '.', '_', '-', '/', e.g. demo/client)");
            }
            checkPort("outboundPort", outboundPort);
            checkPort("inboundPort", inboundPort);
            if (outboundPort == inboundPort) {
                throw new RulesException("inboundPort: " + inboundPort + " is also the outboundPort; they must differ");
            }
            if (markSpec != null) {
                parseMark(markSpec);
            }
            if (markMask == 0) {
                throw new RulesException("markMask: 0x0 would match every packet; use a non-zero mask");
            }
            if (mark == 0) {
                throw new RulesException("mark: 0x0 is not allowed (unmarked packets carry 0, so nothing would be captured)");
            }
            if ((mark & ~markMask) != 0) {
                throw new RulesException("mark: 0x" + Integer.toHexString(mark) + " has bits outside markMask 0x"
                        + Integer.toHexString(markMask));
            }
            if (tproxyMarkSpec != null) {
                tproxyMark = parseMarkNumber("tproxyMark", tproxyMarkSpec, tproxyMarkSpec);
            }
            if (capture == CaptureMode.TPROXY) {
                if (tproxyMark == 0 || (tproxyMark & ~markMask) != 0 || tproxyMark == mark) {
                    throw new RulesException("tproxyMark: 0x" + Integer.toHexString(tproxyMark) + " must be non-zero, "
                            + "within markMask 0x" + Integer.toHexString(markMask) + " and not the proxy's mark 0x"
                            + Integer.toHexString(mark));
                }
                // 0 is unspecified; 253, 254 and 255 are the default, main and local tables.
                if (routeTable == 0 || (routeTable >= 253 && routeTable <= 255)) {
                    throw new RulesException("routeTable: " + Integer.toUnsignedString(routeTable)
                            + " is not a table of nodemesh's own (not 0, 253 default, 254 main or 255 local)");
                }
            }
            exemptOutboundPorts.forEach(p -> checkPort("exemptPort", p));
            exemptInboundPorts.forEach(p -> checkPort("exemptInboundPort", p));
            if (families.isEmpty()) {
                throw new RulesException("ipFamilies: none enabled; enable IPv4, IPv6 or both");
            }
            LinkedHashSet<Cidr> cidrs = new LinkedHashSet<>();
            for (String text : exemptCidrs) {
                Cidr cidr;
                try {
                    cidr = Cidr.parse(text);
                } catch (RulesException e) {
                    throw new RulesException("exemptCidr: " + e.getMessage(), e);
                }
                if (!families.contains(cidr.family())) {
                    throw new RulesException("exemptCidr: '" + text + "' is "
                            + (cidr.family() == IpFamily.IPV4 ? "IPv4" : "IPv6")
                            + " but the plan does not capture that family");
                }
                cidrs.add(cidr);
            }
            return new RedirectPlan(this, new ArrayList<>(cidrs));
        }

        private void parseMark(String spec) {
            String[] parts = spec.strip().split("/", -1);
            if (parts.length > 2) {
                throw new RulesException("mark: '" + spec + "' is not VALUE or VALUE/MASK (e.g. 0x539/0xfff)");
            }
            mark = parseMarkNumber("mark", parts[0], spec);
            if (parts.length == 2) {
                markMask = parseMarkNumber("markMask", parts[1], spec);
            }
        }

        private static int parseMarkNumber(String field, String text, String spec) {
            String t = text.strip().toLowerCase(Locale.ROOT);
            try {
                long value = t.startsWith("0x") ? Long.parseLong(t.substring(2), 16) : Long.parseLong(t);
                if (value < 0 || value > 0xffffffffL) {
                    throw new NumberFormatException();
                }
                return (int) value;
            } catch (NumberFormatException e) {
                throw new RulesException(field + ": '" + text + "' in '" + spec
                        + "' is not a 32-bit number (hex 0x539 or decimal 1337)");
            }
        }

        private static void checkPort(String field, int port) {
            if (port < 1 || port > 65535) {
                throw new RulesException(field + ": " + port + " is not a port (1..65535)");
            }
        }
    }
}
