package io.nodemesh.proxy.config;

import java.util.Locale;

/** Who installs the redirect rules in captured pods. */
public enum RulesBackend {
    /** The proxy, with iptables-restore / ip6tables-restore. */
    IPTABLES,
    /** The proxy, with nft. */
    NFT,
    /** Somebody else (a CNI plugin, a test): the proxy only opens listeners. */
    NONE;

    /** The name used in config files. */
    public String configName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses {@code iptables}, {@code nft} or {@code none}; null if it is none of them. */
    public static RulesBackend parse(String text) {
        for (RulesBackend b : values()) {
            if (b.configName().equals(text)) {
                return b;
            }
        }
        return null;
    }
}
