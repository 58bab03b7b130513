package io.nodemesh.discovery.kubernetes;

import io.nodemesh.proxy.inpod.NetnsScanner;
import java.net.InetAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Finds the network namespaces of pods that were already running when the proxy learnt it should capture them (a
 * proxy restart, a namespace enrolled later): in production {@link #scanning} a {@link NetnsScanner}, one pass over
 * {@code /proc} and {@code /var/run/netns} for all the addresses asked at once.
 */
@FunctionalInterface
public interface NetnsFinder {

    /** Finds nothing: every pod to capture stays without a namespace (and its capture fails, saying so). */
    NetnsFinder NONE = addresses -> Map.of();

    /**
     * Looks once for the namespaces holding {@code addresses}.
     *
     * @return the path of the namespace of each address found (in exactly one namespace); the others are left out
     */
    Map<InetAddress, Path> find(Collection<InetAddress> addresses);

    /**
     * Takes a look now, before the addresses are known (the source calls it while its first lists are still coming
     * in, so that a restarted proxy does not scan after them), and returns a finder for the first snapshot: one that
     * answers from that look where it still holds, and looks again for the rest. By default it looks at nothing in
     * advance and is this finder.
     */
    default NetnsFinder lookAhead() {
        return this;
    }

    /**
     * Finds namespaces with {@code scanner}, each scan that found any logged with what it visited and took. Its
     * {@link #lookAhead} scans at once; its answers later are the namespaces that scan saw whose paths still name them
     * ({@link NetnsScanner.Result#stillNames}: not a bind mount gone since, not an exited process's pid taken by another),
     * and a new scan for the addresses it did not find or that no longer hold.
     */
    static NetnsFinder scanning(NetnsScanner scanner) {
        Logger log = LoggerFactory.getLogger(NetnsFinder.class);
        return new NetnsFinder() {
            @Override
            public Map<InetAddress, Path> find(Collection<InetAddress> addresses) {
                NetnsScanner.Result scan = scanner.scan();
                Map<InetAddress, Path> found = scan.findAll(addresses);
                log(scan, addresses.size(), found.size(), "");
                return found;
            }

            @Override
            public NetnsFinder lookAhead() {
                NetnsScanner.Result early = scanner.scan();
                return addresses -> {
                    Map<InetAddress, Path> found = new HashMap<>();
                    List<InetAddress> rest = new ArrayList<>();
                    for (InetAddress address : addresses) {
                        Path path = early.byAddress().get(address);
                        if (path != null && early.stillNames(path)) {
                            found.put(address, path);
                        } else {
                            rest.add(address);
                        }
                    }
                    log(early, addresses.size(), found.size(), " by a scan taken while the API was listed"
                            + (rest.isEmpty() ? "" : ", the other " + rest.size() + " looked for again"));
                    if (!rest.isEmpty()) {
                        found.putAll(find(rest));
                    }
                    return found;
                };
            }

            private void log(NetnsScanner.Result scan, int asked, int found, String how) {
                if (found == 0) {
                    log.debug("looked for {} pod address(es), found none{}: {}", asked, how, scan);
                } else {
                    log.info("looked for {} pod address(es), found {}{}: {}", asked, found, how, scan);
                }
            }
        };
    }
}
