package io.batchkit;

/** Thrown when a batch id names no batch in the service's store. */
public class BatchNotFoundException extends BatchException {
  private static final long serialVersionUID = 1L;

  private final transient BatchId batchId;

  /** Creates the exception for {@code batchId}. */
  public BatchNotFoundException(BatchId batchId) {
    super("batch " + batchId + " not found");
    this.batchId = batchId;
  }

  /** Returns the id that was not found. */
  public BatchId batchId() {
    return batchId;
  }
}
