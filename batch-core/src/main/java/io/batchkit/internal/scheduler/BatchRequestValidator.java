package io.batchkit.internal.scheduler;

import io.batchkit.BatchRequest;
import io.batchkit.BatchValidationException.Violation;
import io.batchkit.Webhook;
import io.batchkit.internal.util.Checks;
import java.util.ArrayList;
import java.util.List;

/**
 * The checks a {@link BatchRequest} must pass before its batch is stored, beyond what the request
 * checks itself: a registered job type, the item count and each payload's size and characters. A
 * class of its own so that the rules a caller can break are found in one place, apart from the
 * scheduling.
 *
 * <p>Ownership: it holds only the immutable {@link ServiceConfig}; any thread may call it.
 */
final class BatchRequestValidator {
  private final ServiceConfig config;

  BatchRequestValidator(ServiceConfig config) {
    this.config = config;
  }

  /** Returns what is wrong with {@code request}, empty if nothing. */
  List<Violation> validate(BatchRequest request) {
    List<Violation> violations = new ArrayList<>();
    if (!config.allowUnknownJobTypes() && !config.processors().containsKey(request.jobType())) {
      violations.add(
          new Violation(
              "jobType",
              "no processor is registered for job type '"
                  + request.jobType()
                  + "' (registered: "
                  + config.processors().keySet()
                  + ")"));
    }
    if (!request.webhooks().isEmpty() && config.webhookSecret() == null) {
      violations.add(
          new Violation(
              "webhooks",
              "this service has no webhookSecret to sign the batch's notifications with"));
    } else if (!request.webhooks().isEmpty() && !config.store().keepsWebhooks()) {
      violations.add(
          new Violation(
              "webhooks",
              "the store (" + config.store().getClass().getSimpleName() + ") keeps no webhooks"));
    }
    int webhooks = request.webhooks().size() + config.webhooks().size();
    if (webhooks > Webhook.MAX_PER_BATCH) {
      violations.add(
          new Violation(
              "webhooks",
              "a batch has at most "
                  + Webhook.MAX_PER_BATCH
                  + " webhooks, its request's and its service's together, would have "
                  + webhooks));
    }
    violations.addAll(validateItems(request.items(), 0));
    return violations;
  }

  /**
   * Returns what is wrong with {@code items} given to a batch that holds {@code held} already: the
   * count against {@code maxItemsPerBatch}, and each payload's size and characters.
   */
  List<Violation> validateItems(List<String> payloads, long held) {
    List<Violation> violations = new ArrayList<>();
    int items = payloads.size();
    if (held + items > config.maxItemsPerBatch()) {
      violations.add(
          new Violation(
              "items",
              "a batch may have at most "
                  + config.maxItemsPerBatch()
                  + " items, "
                  + (held == 0 ? "had " + items : "would have " + (held + items))));
    }
    int oversized = 0;
    int unstorable = 0;
    for (int i = 0; i < items; i++) {
      String payload = payloads.get(i);
      String problem = Checks.unstorable(payload);
      if (problem != null) {
        if (++unstorable <= 10) {
          violations.add(
              new Violation("items[" + i + "]", "a payload must not contain " + problem));
        }
        continue;
      }
      long bytes = utf8Length(payload, config.maxPayloadBytes());
      if (bytes > config.maxPayloadBytes()) {
        if (++oversized <= 10) {
          violations.add(
              new Violation(
                  "items[" + i + "]",
                  "a payload may be at most "
                      + config.maxPayloadBytes()
                      + " bytes in UTF-8, was "
                      + bytes));
        }
      }
    }
    if (unstorable > 10) {
      violations.add(
          new Violation(
              "items",
              (unstorable - 10) + " more payloads hold a NUL character or an unpaired surrogate"));
    }
    if (oversized > 10) {
      violations.add(
          new Violation(
              "items",
              (oversized - 10) + " more payloads are over " + config.maxPayloadBytes() + " bytes"));
    }
    return violations;
  }

  /**
   * Returns why a job's result cannot be stored (a character no store keeps, or more than {@code
   * limit} bytes in UTF-8), or null when it can: the one rule for results from processors and from
   * workers outside the service.
   */
  static String resultProblem(String result, int limit) {
    String unstorable = Checks.unstorable(result);
    if (unstorable != null) {
      return "result must not contain " + unstorable;
    }
    long bytes = utf8Length(result, limit);
    if (bytes > limit) {
      return "result of "
          + bytes
          + " bytes is over the limit of "
          + limit
          + " bytes (maxPayloadBytes)";
    }
    return null;
  }

  /** Returns the UTF-8 length of {@code s}, exact when it matters (near or over {@code limit}). */
  static long utf8Length(String s, int limit) {
    if ((long) s.length() * 3 <= limit) {
      return s.length();
    }
    long bytes = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
  }
}
