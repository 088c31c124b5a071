package io.batchkit.spi;

import io.batchkit.BatchException;

/**
 * A store could not carry out an operation. It names the operation and says whether trying again
 * later may help (a lost connection) or not (a broken schema), so the service knows whether to back
 * off and retry. Messages never contain payloads.
 */
public class JobStoreException extends BatchException {
  private static final long serialVersionUID = 1L;

  private final String operation;
  private final boolean retryable;

  /**
   * Creates the exception.
   *
   * @param operation the {@link JobStore} method that failed, for example {@code "claim"}
   * @param retryable whether the same call may succeed later
   * @param message what went wrong, with the ids involved
   * @param cause the underlying failure, or null
   */
  public JobStoreException(String operation, boolean retryable, String message, Throwable cause) {
    super(operation + ": " + message, cause);
    this.operation = operation;
    this.retryable = retryable;
  }

  /** Returns the {@link JobStore} method that failed. */
  public String operation() {
    return operation;
  }

  /** Returns whether the same call may succeed if tried again later. */
  public boolean isRetryable() {
    return retryable;
  }
}
