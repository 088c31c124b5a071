package io.batchkit.web.internal;

import io.batchkit.BatchRequest;
import io.batchkit.Priority;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.IntConsumer;
import tools.jackson.databind.JsonNode;

/**
 * The body of {@code POST /api/batches}, turned into a {@link BatchRequest}: each field is checked
 * for its JSON type here, then handed to the builder, whose checks (the Java API's own) give the
 * messages; every problem found is reported, each under its field.
 *
 * <pre>{@code
 * {"jobType": "video", "items": ["a", "b"], "name": "...", "metadata": {"k": "v"},
 *  "priority": "HIGH", "maxConcurrency": 4, "maxAttempts": 3, "jobTimeoutMs": 60000,
 *  "idempotencyKey": "...", "autoStart": true}
 * }</pre>
 */
final class CreateRequest {
  private static final Set<String> FIELDS =
      Set.of(
          "jobType",
          "items",
          "name",
          "metadata",
          "priority",
          "maxConcurrency",
          "maxAttempts",
          "jobTimeoutMs",
          "idempotencyKey",
          "autoStart");

  /** The body being read; every problem found is noted in it. */
  private final BodyFields fields;

  private CreateRequest(BodyFields fields) {
    this.fields = fields;
  }

  /**
   * Returns the request {@code body} describes.
   *
   * @throws ApiException 400 with every field that is missing, of the wrong type or refused
   */
  static BatchRequest parse(JsonNode body) {
    return new CreateRequest(new BodyFields(body, FIELDS, "a batch request", false)).build();
  }

  /**
   * Returns the items of the body of {@code POST /api/batches/{id}/items}: {@code {"items":
   * [...]}}.
   *
   * @throws ApiException 400 when the body is not that
   */
  static List<String> items(JsonNode body) {
    CreateRequest parse =
        new CreateRequest(new BodyFields(body, Set.of("items"), "an items request", false));
    List<String> items = parse.strings();
    parse.fields.done();
    return items;
  }

  /** The strings of the {@code items} array; problems noted for what is missing or not a string. */
  private List<String> strings() {
    List<String> payloads = new ArrayList<>();
    JsonNode items = fields.get("items");
    if (items == null) {
      fields.add("items", "is required");
    } else if (!items.isArray()) {
      fields.add("items", "must be an array of strings");
    } else {
      int wrong = 0;
      for (int i = 0; i < items.size(); i++) {
        JsonNode item = items.get(i);
        if (!item.isString()) {
          if (++wrong <= 10) { // as the Java API reports payloads: ten, then a count
            fields.add("items[" + i + "]", "must be a string");
          }
        } else {
          payloads.add(item.stringValue());
        }
      }
      if (wrong > 10) {
        fields.add("items", (wrong - 10) + " more items are not strings");
      }
    }
    return payloads;
  }

  private BatchRequest build() {
    BatchRequest.Builder builder = null;
    String jobType = fields.text("jobType", true);
    if (jobType != null) {
      try {
        builder = BatchRequest.builder(jobType);
      } catch (IllegalArgumentException | NullPointerException e) {
        fields.add("jobType", e.getMessage());
      }
    }
    BatchRequest.Builder b = builder != null ? builder : BatchRequest.builder("unchecked");
    int before = fields.problems();
    List<String> payloads = strings();
    if (fields.problems() == before) {
      apply("items", () -> b.items(payloads));
    }
    string("name", b::name);
    string("idempotencyKey", b::idempotencyKey);
    JsonNode metadata = fields.get("metadata");
    if (metadata != null) {
      if (!metadata.isObject()) {
        fields.add("metadata", "must be an object of strings");
      } else {
        for (Map.Entry<String, JsonNode> entry : metadata.properties()) {
          String field = "metadata." + entry.getKey();
          if (!entry.getValue().isString()) {
            fields.add(field, "must be a string");
          } else {
            apply(field, () -> b.metadata(entry.getKey(), entry.getValue().stringValue()));
          }
        }
      }
    }
    string(
        "priority",
        text -> {
          Priority priority;
          try {
            priority = Priority.valueOf(text.strip().toUpperCase(Locale.ROOT));
          } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                "must be one of "
                    + List.of(Priority.values())
                    + ", was '"
                    + QueryParams.clip(text)
                    + "'");
          }
          b.priority(priority);
        });
    integer("maxConcurrency", b::maxConcurrency);
    integer("maxAttempts", b::maxAttempts);
    JsonNode timeout = fields.get("jobTimeoutMs");
    if (timeout != null) {
      if (!timeout.isIntegralNumber() || !timeout.canConvertToLong()) {
        fields.add("jobTimeoutMs", "must be a whole number of milliseconds");
      } else {
        apply("jobTimeoutMs", () -> b.jobTimeout(Duration.ofMillis(timeout.longValue())));
      }
    }
    if (fields.bool("autoStart", false)) {
      b.autoStart();
    }
    fields.done();
    return b.build();
  }

  /** Hands the string {@code field} holds, if any, to a builder step. */
  private void string(String field, Consumer<String> set) {
    String value = fields.text(field, false);
    if (value != null) {
      apply(field, () -> set.accept(value));
    }
  }

  /** Hands the whole number {@code field} holds, if any, to a builder step. */
  private void integer(String field, IntConsumer set) {
    Integer value = fields.integer(field);
    if (value != null) {
      apply(field, () -> set.accept(value));
    }
  }

  /** Runs a builder step; its refusal becomes a problem of {@code field}. */
  private void apply(String field, Runnable step) {
    try {
      step.run();
    } catch (IllegalArgumentException | NullPointerException e) {
      fields.add(field, e.getMessage());
    }
  }
}
