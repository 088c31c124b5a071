package io.batchkit.internal.scheduler;

import io.batchkit.internal.util.Checks;

/**
 * The error text stored for a failed attempt. A class of its own because it is a pure function of
 * the failure, apart from the threads that call it ({@link AttemptOutcomes}, {@link PullWorkers}),
 * and because its limits are what a store can keep.
 *
 * <p>Ownership: it has no state; any thread may call it.
 */
final class FailureText {
  private static final int MAX_ERROR_LENGTH = 2_000;

  private FailureText() {}

  /**
   * Returns the error text stored for a failure: its class and message, cut at {@link
   * #MAX_ERROR_LENGTH} characters (never inside a surrogate pair), with any character a store
   * cannot keep replaced by U+FFFD. Never throws, even if the failure's {@code getMessage} does.
   */
  static String describe(Throwable failure) {
    String message;
    try {
      message = failure.getMessage();
    } catch (Throwable e) {
      message = "(its getMessage() threw " + e.getClass().getName() + ")";
    }
    return of(
        message == null
            ? failure.getClass().getName()
            : failure.getClass().getName() + ": " + message);
  }

  /**
   * Returns the error text stored for a failure a worker outside the service described: {@code
   * text} cut and cleaned as {@link #describe} does.
   */
  static String of(String text) {
    if (text.length() > MAX_ERROR_LENGTH) {
      int end = MAX_ERROR_LENGTH;
      if (Character.isHighSurrogate(text.charAt(end - 1))) {
        end--;
      }
      text = text.substring(0, end) + "...";
    }
    return Checks.replaceUnstorable(text);
  }
}
