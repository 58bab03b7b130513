package io.nodemesh.bench.harness;

import io.nodemesh.topology.Netns;

/** One path wrk's requests can take to the server: direct, through nodemesh, through HAProxy. */
interface Subject {

    /** Short name used in tables (direct, nodemesh, haproxy). */
    String name();


    /** The namespace wrk runs in for this subject. */
    Netns client();

    /** The URL wrk requests. */
    String url();

    /** The subject's own process whose CPU and memory are accounted, or null (direct). */
    Process process();

    /** Called just before each wrk run against this subject. */
    default void beforeRun() {
    }

    /**
     * Called after each wrk run; throws {@link IllegalStateException} when the run did not take
     * the path this subject stands for (its figures would be someone else's).
     */
    default void afterRun(int connections) {
    }

    /** Thrown when a subject cannot be set up on this machine; the report says why. */
    final class Unavailable extends Exception {
        private static final long serialVersionUID = 1L;

        Unavailable(String reason) {
            super(reason);
        }
    }
}
