package io.nodemesh.bench.load;

/** What a {@link LoadServer} does with the bytes of each connection. */
public enum ServerMode {
    /** Fixed-size request in, fixed-size response out, many per connection ({@link LoadProtocol}). */
    RR,
    /** Reads and discards everything: the receiving end of a bulk push. */
    SINK,
    /** Writes continuously (and discards anything read): the sending end of a bulk pull. */
    SOURCE
}
