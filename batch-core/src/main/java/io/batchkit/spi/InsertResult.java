package io.batchkit.spi;

import io.batchkit.Batch;
import io.batchkit.internal.util.Checks;
import java.util.Optional;

/**
 * What {@link JobStore#insertBatch} did.
 *
 * @param batch the stored batch: the new one, or the one that already had the idempotency key
 * @param created true if this call stored the batch, false if the key already existed
 * @param fingerprint when the key already existed, the request fingerprint stored with that batch
 *     (empty if it was stored without one); when the batch was created, the one given
 */
public record InsertResult(Batch batch, boolean created, Optional<String> fingerprint) {
  /**
   * Creates a result.
   *
   * @throws NullPointerException if an argument is null
   */
  public InsertResult {
    Checks.notNull(batch, "batch");
    Checks.notNull(fingerprint, "fingerprint");
  }

  /**
   * Creates a result without a fingerprint.
   *
   * @throws NullPointerException if {@code batch} is null
   */
  public InsertResult(Batch batch, boolean created) {
    this(batch, created, Optional.empty());
  }
}
