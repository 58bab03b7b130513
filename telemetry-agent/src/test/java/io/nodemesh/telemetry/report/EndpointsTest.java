package io.nodemesh.telemetry.report;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import io.nodemesh.telemetry.v1.Address;
import io.nodemesh.telemetry.v1.ConnectionRecord;
import org.junit.jupiter.api.Test;

/** Both forms of a record's addresses read the same: the flat fields and the nested messages of older reporters. */
class EndpointsTest {

    @Test
    void flatAndNestedAddressesOfTheSameEndsReadTheSame() {
        ConnectionRecord flat = ConnectionRecord.newBuilder().setSourceIpv4(0xc0a80001).setSourcePort(5)
                .setDestinationIpv6High(0x2001_0db8_0000_0000L).setDestinationIpv6Low(0x0000_0000_0000_0001L)
                .setDestinationPort(80).build();
        ConnectionRecord nested = ConnectionRecord.newBuilder()
                .setSourceAddress(Address.newBuilder().setIp(ByteString.copyFrom(new byte[] {(byte) 192, (byte) 168, 0, 1}))
                        .setPort(5))
                .setDestinationAddress(Address.newBuilder().setIp(ByteString.copyFrom(new byte[] {0x20, 0x01, 0x0d,
                    (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1})).setPort(80))
                .build();

        assertThat(Endpoints.source(flat)).isEqualTo("192.168.0.1:5").isEqualTo(Endpoints.source(nested));
        assertThat(Endpoints.destination(flat)).isEqualTo("[2001:db8:0:0:0:0:0:1]:80").isEqualTo(Endpoints.destination(nested));
    }

    @Test
    void anEndWithoutAnAddressIsUnknown() {
        ConnectionRecord r = ConnectionRecord.newBuilder().setDestinationPort(80).build();

        assertThat(Endpoints.source(r)).isEmpty();
        assertThat(Endpoints.destination(r)).isEmpty();
    }
}
