package io.nodemesh.proxy.telemetry;

import static org.assertj.core.api.Assertions.assertThat;

import io.nodemesh.proxy.model.ConnectionPath;
import io.nodemesh.proxy.model.Direction;
import io.nodemesh.proxy.model.Outcome;
import io.nodemesh.proxy.model.Side;
import io.nodemesh.proxy.model.WorkloadRef;
import io.nodemesh.telemetry.report.BatchValidator;
import io.nodemesh.telemetry.report.Endpoints;
import io.nodemesh.telemetry.report.ReportLimits;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import io.nodemesh.telemetry.v1.ReportBatch;
import io.nodemesh.telemetry.v1.ReportProtocol;
import io.nodemesh.telemetry.v1.SecurityPolicy;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** The reporter writes both ends' addresses as the flat fields, which the agent reads back to the same addresses. */
class RecordMapperTest {

    private final RecordMapper mapper = new RecordMapper(WorkloadLookup.NONE, "cluster.local");

    @Test
    void ipv4EndsTravelAsFlatFieldsAndReadBackTheSame() throws Exception {
        ConnectionRecord r = map("10.77.0.2", 40_000, "10.77.0.3", 8080);

        assertThat(r.hasSourceAddress()).isFalse(); // no nested messages
        assertThat(r.getSourceIpv4()).isEqualTo(0x0a4d0002);
        assertThat(Endpoints.source(r)).isEqualTo("10.77.0.2:40000");
        assertThat(Endpoints.destination(r)).isEqualTo("10.77.0.3:8080");
    }

    @Test
    void ipv6EndsTravelAsFlatFieldsAndReadBackTheSame() throws Exception {
        ConnectionRecord r = map("fd77::2", 40_001, "fd77:1:2:3:4:5:6:ff03", 443);

        assertThat(r.getSourceIpv4()).isZero();
        assertThat(Endpoints.source(r)).isEqualTo("[fd77:0:0:0:0:0:0:2]:40001");
        assertThat(Endpoints.destination(r)).isEqualTo("[fd77:1:2:3:4:5:6:ff03]:443");
    }

    @Test
    void theSideWhoseFailureEndedAConnectionTravelsWithItsOutcome() throws Exception {
        ClosedConnection plain = closed("10.77.0.2", 40_000, "10.77.0.3", 8080);
        ClosedConnection reset = new ClosedConnection(plain.opening(), 1, 2, 3, Outcome.RESET, false, Side.DOWNSTREAM);
        ClosedConnection lost = new ClosedConnection(plain.opening(), 1, 2, 3, Outcome.PEER_LOST, true, Side.UPSTREAM);
        ReportBatch.Builder batch = ReportBatch.newBuilder();
        mapper.startBatch();

        ConnectionRecord r = mapper.map(slot(reset), batch);
        assertThat(r.getOutcome()).isEqualTo(io.nodemesh.telemetry.v1.Outcome.OUTCOME_RESET);
        assertThat(r.getEndedBy()).isEqualTo(io.nodemesh.telemetry.v1.Side.SIDE_DOWNSTREAM);
        assertThat(mapper.map(slot(lost), batch).getEndedBy()).isEqualTo(io.nodemesh.telemetry.v1.Side.SIDE_UPSTREAM);
        assertThat(mapper.map(slot(plain), batch).getEndedBy())
                .isEqualTo(io.nodemesh.telemetry.v1.Side.SIDE_UNSPECIFIED);
        assertThat(mapper.map(slot(plain.opening()), batch).getEndedBy()).as("an opening")
                .isEqualTo(io.nodemesh.telemetry.v1.Side.SIDE_UNSPECIFIED);
    }

    @Test
    void theLookupIsAskedAboutTheAddressesTheSlotHolds() throws Exception {
        java.util.List<Object> asked = new java.util.ArrayList<>();
        RecordMapper looking = new RecordMapper(new WorkloadLookup() {
            @Override
            public WorkloadRef workloadAt(InetAddress address) {
                asked.add(address);
                return address.getHostAddress().endsWith("ff03") ? new WorkloadRef("reviews-1", "shop", "reviews") : null;
            }

            @Override
            public String serviceAt(InetSocketAddress destination) {
                asked.add(destination);
                return "reviews.shop.svc.cluster.local";
            }
        }, "cluster.local");
        ReportBatch.Builder batch = ReportBatch.newBuilder();
        looking.startBatch();

        ConnectionRecord r = looking.map(slot(closed("fd77::2", 40_001, "fd77:1:2:3:4:5:6:ff03", 443)), batch);

        assertThat(asked).containsExactly(InetAddress.getByName("fd77::2"), InetAddress.getByName("fd77:1:2:3:4:5:6:ff03"),
                new InetSocketAddress(InetAddress.getByName("fd77:1:2:3:4:5:6:ff03"), 443));
        assertThat(batch.getWorkloads(r.getDestinationRef() - 1).getName()).isEqualTo("reviews-1");
        assertThat(batch.getServices(r.getDestinationServiceRef() - 1)).isEqualTo("reviews.shop.svc.cluster.local");
        assertThat(r.getBytesSent()).isEqualTo(10);
        assertThat(r.getBytesReceived()).isEqualTo(20);
        assertThat(r.getDurationNanos()).isEqualTo(1_000_000);
    }

    @Test
    void onlyTheDestinationSaysHowAConnectionArrivedMutualTlsThroughTheTunnel() throws Exception {
        InetSocketAddress client = new InetSocketAddress(InetAddress.getByName("10.77.0.2"), 40_000);
        InetSocketAddress server = new InetSocketAddress(InetAddress.getByName("10.77.0.3"), 8080);
        long now = System.currentTimeMillis();
        ReportBatch.Builder batch = ReportBatch.newBuilder();
        mapper.startBatch();
        ConnectionRecord out = mapper.map(slot(new ClosedConnection(new OpenedConnection(Direction.OUTBOUND, "a",
                "pod-a", "sa", client, server, now), 1, 1, 1, Outcome.OK)), batch);
        ConnectionRecord tunnelled = mapper.map(slot(new ClosedConnection(new OpenedConnection(Direction.INBOUND, "b",
                "pod-b", "sb", client, server, now, ConnectionPath.tunnel(new InetSocketAddress(client.getAddress(), 43_000),
                true, null, null)), 1, 1, 1, Outcome.OK)), batch);
        ConnectionRecord plaintext = mapper.map(slot(new ClosedConnection(new OpenedConnection(Direction.INBOUND, "b",
                "pod-b", "sb", client, server, now, ConnectionPath.plaintext(null, null)), 1, 1, 1, Outcome.OK)), batch);

        assertThat(out.getSecurityPolicy()).as("the source cannot know")
                .isEqualTo(SecurityPolicy.SECURITY_POLICY_UNSPECIFIED);
        assertThat(tunnelled.getSecurityPolicy()).isEqualTo(SecurityPolicy.SECURITY_POLICY_MUTUAL_TLS);
        assertThat(plaintext.getSecurityPolicy()).isEqualTo(SecurityPolicy.SECURITY_POLICY_NONE);
    }

    @Test
    void aMappedBatchPassesTheAgentsValidation() throws Exception {
        ReportBatch.Builder batch = ReportBatch.newBuilder().setProtocolVersion(ReportProtocol.VERSION);
        mapper.startBatch();
        batch.addConnections(mapper.map(slot(closed("10.77.0.2", 1, "10.77.0.3", 2)), batch));
        batch.addConnections(mapper.map(slot(closed("fd77::2", 3, "fd77::3", 4)), batch));

        assertThat(new BatchValidator(ReportLimits.DEFAULT, System::currentTimeMillis).problemWith(batch.build())).isNull();
    }

    private ConnectionRecord map(String source, int sourcePort, String destination, int destinationPort)
            throws Exception {
        ReportBatch.Builder batch = ReportBatch.newBuilder();
        mapper.startBatch();
        return mapper.map(slot(closed(source, sourcePort, destination, destinationPort)), batch);
    }

    /** The event as the reporter maps it: copied into a ring's slot. */
    static EventRing.Slot slot(ConnectionEvent event) {
        EventRing ring = new EventRing(1);
        assertThat(ring.offer(event)).isTrue();
        return ring.peek(0);
    }

    private static ClosedConnection closed(String source, int sourcePort, String destination, int destinationPort)
            throws Exception {
        OpenedConnection o = new OpenedConnection(Direction.OUTBOUND, "a", "pod-a", "sa",
                new InetSocketAddress(InetAddress.getByName(source), sourcePort),
                new InetSocketAddress(InetAddress.getByName(destination), destinationPort), System.currentTimeMillis());
        return new ClosedConnection(o, 10, 20, 1_000_000, Outcome.OK);
    }
}
