package io.nodemesh.cli;

import io.nodemesh.proxy.telemetry.ReportTransport;
import io.nodemesh.telemetry.agent.ReportIntake;
import io.nodemesh.telemetry.v1.ReportBatch;
import java.util.Objects;

/**
 * The reports of a proxy that hosts its telemetry agent ({@code nodemesh proxy --agent-in-process}): each batch handed
 * to the agent's {@link ReportIntake} on the reporter's own thread (lowered like the agent's), as the object it is: no
 * socket, no serialisation, no gRPC classes or threads. A batch the agent refuses ends the stream as on the socket, and
 * the reporter opens another.
 */
final class HostedAgentTransport implements ReportTransport {

    private final ReportIntake intake;

    HostedAgentTransport(ReportIntake intake) {
        this.intake = Objects.requireNonNull(intake, "intake");
    }

    @Override
    public Stream open(Thread reporter) {
        ReportIntake.Session session = intake.open();
        return new Direct(session, session == null
                ? "the agent already has " + intake.maxActiveStreams() + " report streams open" : null);
    }

    @Override
    public void close() {
        // nothing held: the agent is stopped by its owner, after the proxy
    }

    @Override
    public String toString() {
        return "the agent in this process";
    }

    /** One session of the agent, used by the reporter thread alone. */
    private static final class Direct implements Stream {
        private final ReportIntake.Session session; // null: refused at open
        private String failure;

        Direct(ReportIntake.Session session, String failure) {
            this.session = session;
            this.failure = failure;
        }

        @Override
        public boolean awaitReady(long timeoutNanos) {
            return failure == null;
        }

        @Override
        public void send(ReportBatch batch) {
            if (failure == null) {
                ReportIntake.Refusal refused = session.accept(batch);
                if (refused != null) {
                    failure = refused.message();
                }
            }
        }

        @Override
        public boolean broken() {
            return failure != null;
        }

        @Override
        public String failure() {
            return failure == null ? "open" : failure;
        }

        @Override
        public void cancel(String why) {
            end(why);
        }

        @Override
        public void finish(long timeoutNanos) {
            end("completed by the reporter"); // every batch was taken when send returned
        }

        private void end(String why) {
            if (session != null) {
                session.finish();
            }
            if (failure == null) {
                failure = why;
            }
        }
    }
}
