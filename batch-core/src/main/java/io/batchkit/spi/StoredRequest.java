package io.batchkit.spi;

import io.batchkit.Webhook;
import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * What a store keeps of a batch's request beyond the batch itself (see {@link
 * JobStore#insertBatch(io.batchkit.Batch, java.util.List, StoredRequest)}).
 *
 * @param fingerprint the service's digest of the request, kept for a batch with an idempotency key
 *     so that a different request under the key is told apart; at most 64 characters
 * @param startAt when a {@code PENDING} batch starts by itself ({@link JobStore#startDueBatches})
 * @param webhooks the batch's webhooks, its request's and its service's: each event of the batch a
 *     webhook is told of is written as a delivery in the step that records the event (see {@link
 *     JobStore#claimWebhookDeliveries})
 */
public record StoredRequest(
    Optional<String> fingerprint, Optional<Instant> startAt, List<Webhook> webhooks) {
  /** Nothing beyond the batch. */
  public static final StoredRequest NONE =
      new StoredRequest(Optional.empty(), Optional.empty(), List.of());

  /**
   * Creates the record; copies {@code webhooks}.
   *
   * @throws NullPointerException if an argument or a webhook is null
   * @throws IllegalArgumentException if the fingerprint is longer than 64 characters, or there are
   *     more than {@value Webhook#MAX_PER_BATCH} webhooks
   */
  public StoredRequest {
    Checks.notNull(fingerprint, "fingerprint");
    Checks.notNull(startAt, "startAt");
    fingerprint.ifPresent(f -> Checks.maxLength(f, "fingerprint", 64));
    webhooks = List.copyOf(Checks.notNull(webhooks, "webhooks"));
    if (webhooks.size() > Webhook.MAX_PER_BATCH) {
      throw new IllegalArgumentException(
          "a batch has at most " + Webhook.MAX_PER_BATCH + " webhooks, had " + webhooks.size());
    }
  }

  /**
   * Creates the record without webhooks: the form before webhooks existed.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the fingerprint is longer than 64 characters
   */
  public StoredRequest(Optional<String> fingerprint, Optional<Instant> startAt) {
    this(fingerprint, startAt, List.of());
  }
}
