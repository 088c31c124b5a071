package io.batchkit.web.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.internal.util.Webhooks;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * A webhook's body, written by hand in batch-core, is valid JSON whose batch has the fields and
 * values of the REST API's batch (less the estimate of the time left, which a notification of a
 * past event has no use for), awkward text included.
 */
class WebhookBodyTest {
  @Test
  void body_isTheRestApisBatch_withTheEvent() {
    Instant t = Instant.parse("2030-01-02T03:04:05.123456Z");
    Batch batch =
        new Batch(
            BatchId.random(),
            "name \"quoted\" \\ back\nline\ttab \u0001 \u2028 日本語 😀",
            "type",
            Priority.HIGH,
            Map.of("tenant", "a\"b", "z", "</script>", "control", "\u001f"),
            4,
            3,
            Duration.ofMinutes(2),
            FailurePolicy.maxFailures(2),
            Optional.of("key"),
            BatchStatus.PARTIAL,
            new Progress(3, 0, 0, 1, 1, 1),
            t,
            Optional.of(t.plusSeconds(1)),
            t.plusSeconds(2),
            Optional.of(t.plusSeconds(2)),
            Optional.empty());
    BatchEvent event =
        new BatchEvent(batch.id(), BatchEvent.Type.FINISHED, t.plusSeconds(2), "detail \"x\"");

    JsonNode body = Json.MAPPER.readTree(Webhooks.body(event, batch));

    ObjectNode expected = Json.batch(batch);
    expected.remove("estimatedSecondsRemaining");
    // compared as parsed text: a long written by the REST code reads back as an int node
    assertEquals(Json.MAPPER.readTree(expected.toString()), body.get("batch"));
    assertEquals("FINISHED", body.get("event").stringValue());
    assertEquals(event.at().toString(), body.get("at").stringValue());
    assertEquals("detail \"x\"", body.get("detail").stringValue());
    assertEquals(4, body.size(), body.toString());
  }
}
