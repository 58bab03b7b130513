package io.nodemesh.bench.load;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.SocketTimeoutException;
import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/** Failed exchanges counted by kind (refused, timeout, reset, eof, address-unavailable, …); one per thread. */
final class ErrorCounts {

    private final Map<String, Long> byKind = new TreeMap<>();

    void count(IOException e) {
        byKind.merge(kindOf(e), 1L, Long::sum);
    }

    long total() {
        return byKind.values().stream().mapToLong(Long::longValue).sum();
    }

    /** Sums several threads' counts into one immutable, sorted map. */
    static Map<String, Long> merge(Iterable<ErrorCounts> counts) {
        Map<String, Long> all = new TreeMap<>();
        for (ErrorCounts c : counts) {
            c.byKind.forEach((k, v) -> all.merge(k, v, Long::sum));
        }
        return Collections.unmodifiableMap(all);
    }

    static long total(Map<String, Long> byKind) {
        return byKind.values().stream().mapToLong(Long::longValue).sum();
    }

    static String kindOf(IOException e) {
        String message = String.valueOf(e.getMessage()).toLowerCase();
        if (e instanceof SocketTimeoutException) {
            return "timeout";
        }
        if (e instanceof EOFException) {
            return "eof";
        }
        if (message.contains("cannot assign requested address")) {
            return "address-unavailable"; // ephemeral ports exhausted, e.g. by TIME_WAIT
        }
        if (e instanceof ConnectException) {
            return message.contains("refused") ? "refused" : "connect";
        }
        if (e instanceof NoRouteToHostException) {
            return "unreachable";
        }
        if (message.contains("reset") || message.contains("broken pipe")) {
            return "reset";
        }
        return "io";
    }
}
