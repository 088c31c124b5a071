package io.batchkit.web.internal;

import io.batchkit.BatchRequest;
import io.batchkit.BatchValidationException.Violation;
import io.batchkit.Priority;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
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

  private final List<Violation> violations = new ArrayList<>();

  private CreateRequest() {}

  /**
   * Returns the request {@code body} describes.
   *
   * @throws ApiException 400 with every field that is missing, of the wrong type or refused
   */
  static BatchRequest parse(JsonNode body) {
    return new CreateRequest().build(body);
  }

  /**
   * Returns the items of the body of {@code POST /api/batches/{id}/items}: {@code {"items":
   * [...]}}.
   *
   * @throws ApiException 400 when the body is not that
   */
  static List<String> items(JsonNode body) {
    CreateRequest parse = new CreateRequest();
    if (body == null || !body.isObject()) {
      throw ApiException.badField("body", "must be a JSON object");
    }
    for (String name : body.propertyNames()) {
      if (!name.equals("items")) {
        parse.violations.add(new Violation(name, "is not a field of an items request"));
      }
    }
    List<String> items = parse.strings(body.get("items"));
    if (!parse.violations.isEmpty()) {
      throw new ApiException(400, "invalid items request", parse.violations);
    }
    return items;
  }

  /** The strings of an {@code items} array; violations for what is missing or not a string. */
  private List<String> strings(JsonNode items) {
    List<String> payloads = new ArrayList<>();
    if (items == null || items.isNull()) {
      violations.add(new Violation("items", "is required"));
    } else if (!items.isArray()) {
      violations.add(new Violation("items", "must be an array of strings"));
    } else {
      int wrong = 0;
      for (int i = 0; i < items.size(); i++) {
        JsonNode item = items.get(i);
        if (!item.isString()) {
          if (++wrong <= 10) { // as the Java API reports payloads: ten, then a count
            violations.add(new Violation("items[" + i + "]", "must be a string"));
          }
        } else {
          payloads.add(item.stringValue());
        }
      }
      if (wrong > 10) {
        violations.add(new Violation("items", (wrong - 10) + " more items are not strings"));
      }
    }
    return payloads;
  }

  private BatchRequest build(JsonNode body) {
    if (body == null || !body.isObject()) {
      throw ApiException.badField("body", "must be a JSON object");
    }
    for (String name : body.propertyNames()) {
      if (!FIELDS.contains(name)) {
        violations.add(new Violation(name, "is not a field of a batch request"));
      }
    }
    BatchRequest.Builder builder = null;
    JsonNode jobType = body.get("jobType");
    if (jobType == null || jobType.isNull()) {
      violations.add(new Violation("jobType", "is required"));
    } else if (!jobType.isString()) {
      violations.add(new Violation("jobType", "must be a string"));
    } else {
      try {
        builder = BatchRequest.builder(jobType.stringValue());
      } catch (IllegalArgumentException | NullPointerException e) {
        violations.add(new Violation("jobType", e.getMessage()));
      }
    }
    BatchRequest.Builder b = builder != null ? builder : BatchRequest.builder("unchecked");
    JsonNode items = body.get("items");
    int before = violations.size();
    List<String> payloads = strings(items);
    if (violations.size() == before) {
      apply("items", () -> b.items(payloads));
    }
    string(body, "name", b::name);
    string(body, "idempotencyKey", b::idempotencyKey);
    JsonNode metadata = body.get("metadata");
    if (metadata != null && !metadata.isNull()) {
      if (!metadata.isObject()) {
        violations.add(new Violation("metadata", "must be an object of strings"));
      } else {
        for (Map.Entry<String, JsonNode> entry : metadata.properties()) {
          String field = "metadata." + entry.getKey();
          if (!entry.getValue().isString()) {
            violations.add(new Violation(field, "must be a string"));
          } else {
            apply(field, () -> b.metadata(entry.getKey(), entry.getValue().stringValue()));
          }
        }
      }
    }
    string(
        body,
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
    integer(body, "maxConcurrency", b::maxConcurrency);
    integer(body, "maxAttempts", b::maxAttempts);
    JsonNode timeout = body.get("jobTimeoutMs");
    if (timeout != null && !timeout.isNull()) {
      if (!timeout.isIntegralNumber() || !timeout.canConvertToLong()) {
        violations.add(new Violation("jobTimeoutMs", "must be a whole number of milliseconds"));
      } else {
        apply("jobTimeoutMs", () -> b.jobTimeout(Duration.ofMillis(timeout.longValue())));
      }
    }
    JsonNode autoStart = body.get("autoStart");
    if (autoStart != null && !autoStart.isNull()) {
      if (!autoStart.isBoolean()) {
        violations.add(new Violation("autoStart", "must be true or false"));
      } else if (autoStart.booleanValue()) {
        b.autoStart();
      }
    }
    if (!violations.isEmpty()) {
      throw new ApiException(400, "invalid batch request", violations);
    }
    return b.build();
  }

  private void string(JsonNode body, String field, Consumer<String> set) {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      return;
    }
    if (!value.isString()) {
      violations.add(new Violation(field, "must be a string"));
      return;
    }
    apply(field, () -> set.accept(value.stringValue()));
  }

  private void integer(JsonNode body, String field, java.util.function.IntConsumer set) {
    JsonNode value = body.get(field);
    if (value == null || value.isNull()) {
      return;
    }
    if (!value.isIntegralNumber() || !value.canConvertToInt()) {
      violations.add(new Violation(field, "must be a whole number"));
      return;
    }
    apply(field, () -> set.accept(value.intValue()));
  }

  /** Runs a builder step; its refusal becomes a violation of {@code field}. */
  private void apply(String field, Runnable step) {
    try {
      step.run();
    } catch (IllegalArgumentException | NullPointerException e) {
      violations.add(new Violation(field, e.getMessage()));
    }
  }
}
