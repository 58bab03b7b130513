package io.nodemesh.cni;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

    @Test
    void keepsKeyOrderAndEveryDigit() throws Exception {
        String text = "{\"z\":1,\"a\":[true,null,\"x\"],\"m\":{\"b\":12345678901234567890,\"c\":0.1000}}";
        Map<String, Object> value = Json.parseObject(text.getBytes(UTF_8));
        assertThat(value.keySet()).containsExactly("z", "a", "m");
        assertThat(value.get("a")).isEqualTo(java.util.Arrays.asList(true, null, "x"));
        assertThat(((Map<?, ?>) value.get("m")).get("c")).isEqualTo(new BigDecimal("0.1000"));
        assertThat(new String(Json.write(value), UTF_8)).isEqualTo(text);
    }

    @Test
    void prettyOutputIsIndentedAndParsesBack() throws Exception {
        Map<String, Object> value = Json.parseObject("{\"name\":\"k8s\",\"plugins\":[{\"type\":\"bridge\"}]}".getBytes(UTF_8));
        String pretty = new String(Json.writePretty(value), UTF_8);
        assertThat(pretty).isEqualTo("""
                {
                  "name": "k8s",
                  "plugins": [
                    {
                      "type": "bridge"
                    }
                  ]
                }
                """);
        assertThat(Json.parse(pretty.getBytes(UTF_8))).isEqualTo(value);
    }

    @Test
    void refusesWhatIsNotOneJsonValue() {
        assertThatThrownBy(() -> Json.parse(new byte[0])).hasMessageContaining("empty input");
        assertThatThrownBy(() -> Json.parse("{\"a\":1} {}".getBytes(UTF_8))).hasMessageContaining("trailing content");
        assertThatThrownBy(() -> Json.parse("{\"a\":1,\"a\":2}".getBytes(UTF_8))).hasMessageContaining("Duplicate").hasMessageContaining("line 1, column 11");
        assertThatThrownBy(() -> Json.parse("{\"a\":".getBytes(UTF_8))).isInstanceOf(Json.JsonException.class);
        assertThatThrownBy(() -> Json.parseObject("[1]".getBytes(UTF_8))).hasMessageContaining("got array");
        assertThatThrownBy(() -> Json.parse("[".repeat(100).getBytes(UTF_8))).isInstanceOf(Json.JsonException.class);
    }
}
