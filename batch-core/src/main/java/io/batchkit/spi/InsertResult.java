package io.batchkit.spi;

import io.batchkit.Batch;
import io.batchkit.internal.util.Checks;

/**
 * What {@link JobStore#insertBatch} did.
 *
 * @param batch the stored batch: the new one, or the one that already had the idempotency key
 * @param created true if this call stored the batch, false if the key already existed
 */
public record InsertResult(Batch batch, boolean created) {
  /**
   * Creates a result.
   *
   * @throws NullPointerException if {@code batch} is null
   */
  public InsertResult {
    Checks.notNull(batch, "batch");
  }
}
