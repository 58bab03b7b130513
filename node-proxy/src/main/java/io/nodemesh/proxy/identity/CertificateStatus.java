package io.nodemesh.proxy.identity;

import io.nodemesh.proxy.model.SpiffeId;
import java.math.BigInteger;
import java.time.Instant;
import java.util.Objects;

/**
 * What the admin API shows of one identity the proxy holds: the certificate in use (if any), how often it was renewed
 * and why the last attempt failed. An immutable view, replaced after every attempt.
 *
 * @param identity the workload identity
 * @param serial the serial of the certificate in use, or null before the first one
 * @param notBefore its start, or null
 * @param notAfter its end, or null
 * @param renewals how many certificates replaced an earlier one
 * @param failures attempts that failed since the last success
 * @param lastError why the last attempt failed, or null after a success
 * @param nextAttempt when the next issue is due (renewal at half-life, or a retry)
 */
public record CertificateStatus(SpiffeId identity, BigInteger serial, Instant notBefore, Instant notAfter,
        int renewals, int failures, String lastError, Instant nextAttempt) {

    /** Where an identity stands. */
    public enum State {
        /** No certificate yet: the first is being issued. */
        ISSUING,
        /** A certificate valid now is in use. */
        VALID,
        /** The certificate ran out before a renewal succeeded: connections of this identity fail until one does. */
        EXPIRED
    }

    public CertificateStatus {
        Objects.requireNonNull(identity, "identity");
    }

    /** The state at {@code now}. */
    public State state(Instant now) {
        if (notAfter == null) {
            return State.ISSUING;
        }
        return now.isBefore(notAfter) ? State.VALID : State.EXPIRED;
    }
}
