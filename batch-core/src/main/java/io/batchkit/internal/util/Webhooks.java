package io.batchkit.internal.util;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.Progress;
import io.batchkit.Webhook;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What every store writes for a batch's webhooks, made here so that the stores write the same: the
 * events a batch's webhooks are told of, as a bit set a store can keep beside the batch and test
 * without reading the webhooks, and the JSON body of a notification. The body has the fields of the
 * REST API's batch ({@code GET /api/batches/{id}}), written by hand because batch-core has no JSON
 * library.
 */
public final class Webhooks {
  private Webhooks() {}

  /**
   * Returns the events at least one of {@code webhooks} is told of, as a bit set: STARTED 1,
   * CANCELLED 2, FINISHED 4. Stores keep it, so the bits are fixed here, not taken from the enum's
   * order.
   */
  public static int events(List<Webhook> webhooks) {
    int bits = 0;
    for (Webhook webhook : webhooks) {
      for (BatchEvent.Type event : webhook.events()) {
        bits |= bit(event);
      }
    }
    return bits;
  }

  /** Returns whether bit set {@code events} (see {@link #events}) holds {@code event}. */
  public static boolean toldOf(int events, BatchEvent.Type event) {
    return (events & bit(event)) != 0;
  }

  private static int bit(BatchEvent.Type event) {
    return switch (event) {
      case STARTED -> 1;
      case CANCELLED -> 2;
      case FINISHED -> 4;
      default -> 0; // no webhook is told of it
    };
  }

  /**
   * The body posted for {@code event}: the event's type, time and detail, and the batch as it was
   * when the event was recorded (so a {@code FINISHED} notification shows the final status even if
   * the batch was retried since).
   */
  public static String body(BatchEvent event, Batch batch) {
    StringBuilder json = new StringBuilder(512);
    json.append("{\"event\":");
    string(json, event.type().name());
    json.append(",\"at\":");
    string(json, event.at().toString());
    json.append(",\"detail\":");
    string(json, event.detail());
    json.append(",\"batch\":{\"id\":");
    string(json, batch.id().toString());
    json.append(",\"name\":");
    string(json, batch.name());
    json.append(",\"jobType\":");
    string(json, batch.jobType());
    json.append(",\"status\":");
    string(json, batch.status().name());
    json.append(",\"priority\":");
    string(json, batch.priority().name());
    json.append(",\"metadata\":{");
    boolean first = true;
    for (Map.Entry<String, String> entry : batch.metadata().entrySet()) {
      if (!first) {
        json.append(',');
      }
      first = false;
      string(json, entry.getKey());
      json.append(':');
      string(json, entry.getValue());
    }
    Progress p = batch.progress();
    json.append("},\"progress\":{\"total\":")
        .append(p.total())
        .append(",\"queued\":")
        .append(p.queued())
        .append(",\"processing\":")
        .append(p.processing())
        .append(",\"succeeded\":")
        .append(p.succeeded())
        .append(",\"failed\":")
        .append(p.failed())
        .append(",\"cancelled\":")
        .append(p.cancelled())
        .append(",\"percentage\":")
        .append(p.percentage())
        .append("},\"maxConcurrency\":")
        .append(batch.maxConcurrency())
        .append(",\"maxAttempts\":")
        .append(batch.maxAttempts())
        .append(",\"jobTimeoutMs\":")
        .append(batch.jobTimeout().toMillis())
        .append(",\"idempotencyKey\":");
    optional(json, batch.idempotencyKey());
    json.append(",\"createdAt\":");
    time(json, Optional.of(batch.createdAt()));
    json.append(",\"startedAt\":");
    time(json, batch.startedAt());
    json.append(",\"updatedAt\":");
    time(json, Optional.of(batch.updatedAt()));
    json.append(",\"completedAt\":");
    time(json, batch.completedAt());
    return json.append("}}").toString();
  }

  private static void time(StringBuilder json, Optional<Instant> time) {
    optional(json, time.map(Instant::toString));
  }

  private static void optional(StringBuilder json, Optional<String> text) {
    if (text.isPresent()) {
      string(json, text.get());
    } else {
      json.append("null");
    }
  }

  /** Appends {@code text} as a JSON string (RFC 8259: quote, backslash and controls escaped). */
  static void string(StringBuilder json, String text) {
    json.append('"');
    for (int i = 0; i < text.length(); i++) {
      char ch = text.charAt(i);
      switch (ch) {
        case '"' -> json.append("\\\"");
        case '\\' -> json.append("\\\\");
        case '\n' -> json.append("\\n");
        case '\r' -> json.append("\\r");
        case '\t' -> json.append("\\t");
        default -> {
          if (ch < 0x20 || ch == '\u2028' || ch == '\u2029') {
            json.append(String.format("\\u%04x", (int) ch));
          } else {
            json.append(ch);
          }
        }
      }
    }
    json.append('"');
  }
}
