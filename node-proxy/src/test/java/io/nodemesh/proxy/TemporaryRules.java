package io.nodemesh.proxy;

import io.nodemesh.testing.TestNamespace;

/** Redirect rules written by hand for tests until the redirect-rules module is on main. */
final class TemporaryRules {

    private TemporaryRules() {
    }

    static void redirect(TestNamespace ns) {
        ns.execOk("iptables", "-t", "nat", "-N", "NM_OUT");
        ns.execOk("iptables", "-t", "nat", "-A", "NM_OUT", "-m", "mark", "--mark", "0x539/0xfff", "-j", "RETURN");
        ns.execOk("iptables", "-t", "nat", "-A", "NM_OUT", "-o", "lo", "-j", "RETURN");
        ns.execOk("iptables", "-t", "nat", "-A", "NM_OUT", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15001");
        ns.execOk("iptables", "-t", "nat", "-A", "OUTPUT", "-p", "tcp", "-j", "NM_OUT");
        ns.execOk("iptables", "-t", "nat", "-N", "NM_IN");
        ns.execOk("iptables", "-t", "nat", "-A", "NM_IN", "-i", "lo", "-j", "RETURN");
        ns.execOk("iptables", "-t", "nat", "-A", "NM_IN", "-p", "tcp", "-m", "multiport", "--dports", "15001,15006,15008", "-j", "RETURN");
        ns.execOk("iptables", "-t", "nat", "-A", "NM_IN", "-p", "tcp", "-j", "REDIRECT", "--to-ports", "15006");
        ns.execOk("iptables", "-t", "nat", "-A", "PREROUTING", "-p", "tcp", "-j", "NM_IN");
    }
}
