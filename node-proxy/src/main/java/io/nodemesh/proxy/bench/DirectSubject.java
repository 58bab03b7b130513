package io.nodemesh.proxy.bench;

import io.nodemesh.testing.TestNamespace;

/** wrk in an uncaptured pod straight to the server's IP: the baseline. */
record DirectSubject(TestNamespace client, String url) implements Subject {

    @Override
    public String name() {
        return "direct";
    }

    @Override
    public Process process() {
        return null;
    }
}
