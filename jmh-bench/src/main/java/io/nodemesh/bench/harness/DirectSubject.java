package io.nodemesh.bench.harness;

import io.nodemesh.topology.Netns;

/** wrk in an uncaptured pod straight to the server's IP: the baseline. */
record DirectSubject(Netns client, String url) implements Subject {

    @Override
    public String name() {
        return "direct";
    }

    @Override
    public Process process() {
        return null;
    }
}
