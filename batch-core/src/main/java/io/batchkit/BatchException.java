package io.batchkit;

/**
 * The root of batchkit's own exceptions. All are unchecked. Wrong-state transitions throw the JDK's
 * {@link IllegalStateException}, bad arguments {@link IllegalArgumentException} or {@link
 * NullPointerException}, as usual.
 */
public class BatchException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Creates an exception with a message. */
  public BatchException(String message) {
    super(message);
  }

  /** Creates an exception with a message and a cause. */
  public BatchException(String message, Throwable cause) {
    super(message, cause);
  }
}
