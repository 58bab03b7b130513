package io.nodemesh.rules;

/** An IP family the capture rules can cover; each has its own iptables tool pair. */
public enum IpFamily {
    IPV4("iptables", "127.0.0.0/8"),
    IPV6("ip6tables", "::1/128");

    private final String iptablesTool;
    private final String loopback;

    IpFamily(String iptablesTool, String loopback) {
        this.iptablesTool = iptablesTool;
        this.loopback = loopback;
    }

    /** Base name of the iptables tools for this family ({@code iptables} or {@code ip6tables}). */
    public String iptablesTool() {
        return iptablesTool;
    }

    /** The loopback range of this family, never captured. */
    public Cidr loopback() {
        return Cidr.parse(loopback);
    }
}
