package io.batchkit;

/**
 * Thrown when a request carries an idempotency key that a stored batch already has, but differs
 * from the request that created that batch: another job type, other items, or other settings. The
 * way payment APIs answer a reused key with a different body: the caller either retries the same
 * request, which returns the stored batch, or picks a new key.
 */
public class IdempotencyConflictException extends BatchException {
  private static final long serialVersionUID = 1L;

  private final String idempotencyKey;
  private final transient BatchId existingBatchId;

  /** Creates the exception for {@code key}, which batch {@code existing} already has. */
  public IdempotencyConflictException(String key, BatchId existing) {
    super(
        "idempotency key '"
            + key
            + "' was used for batch "
            + existing
            + " with a different request (job type, items or settings differ)");
    this.idempotencyKey = key;
    this.existingBatchId = existing;
  }

  /** Returns the key that was reused. */
  public String idempotencyKey() {
    return idempotencyKey;
  }

  /** Returns the batch that already has the key. */
  public BatchId existingBatchId() {
    return existingBatchId;
  }
}
