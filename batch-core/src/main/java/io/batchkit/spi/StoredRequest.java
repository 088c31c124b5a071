package io.batchkit.spi;

import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.util.Optional;

/**
 * What a store keeps of a batch's request beyond the batch itself (see {@link
 * JobStore#insertBatch(io.batchkit.Batch, java.util.List, StoredRequest)}).
 *
 * @param fingerprint the service's digest of the request, kept for a batch with an idempotency key
 *     so that a different request under the key is told apart; at most 64 characters
 * @param startAt when a {@code PENDING} batch starts by itself ({@link JobStore#startDueBatches})
 */
public record StoredRequest(Optional<String> fingerprint, Optional<Instant> startAt) {
  /** Nothing beyond the batch. */
  public static final StoredRequest NONE = new StoredRequest(Optional.empty(), Optional.empty());

  /**
   * Creates the record.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if the fingerprint is longer than 64 characters
   */
  public StoredRequest {
    Checks.notNull(fingerprint, "fingerprint");
    Checks.notNull(startAt, "startAt");
    fingerprint.ifPresent(f -> Checks.maxLength(f, "fingerprint", 64));
  }
}
