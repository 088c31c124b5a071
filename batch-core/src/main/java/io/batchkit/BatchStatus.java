package io.batchkit;

/**
 * The life cycle of a batch.
 *
 * <pre>
 * PENDING --start--&gt; PROCESSING --all jobs ended--&gt; COMPLETED | PARTIAL | FAILED
 *    |                   |                                    |  (retryFailed)
 *    +------cancel-------+--------&gt; CANCELLED                 +--&gt; PROCESSING
 * </pre>
 */
public enum BatchStatus {
  /** Created, but its jobs are not eligible to run until the batch is started. */
  PENDING,
  /** Started: its jobs are queued, running or finished. */
  PROCESSING,
  /** Every job succeeded. */
  COMPLETED,
  /** Some jobs succeeded and some failed. */
  PARTIAL,
  /** No job succeeded and some failed, or the batch's failure policy aborted it. */
  FAILED,
  /** Cancelled by a user, whatever had finished before. */
  CANCELLED;

  /** Returns true for the statuses a batch ends in. */
  public boolean isFinal() {
    return this != PENDING && this != PROCESSING;
  }

  /**
   * Returns whether a batch in this status may move to {@code next}.
   *
   * @throws NullPointerException if {@code next} is null
   */
  public boolean canMoveTo(BatchStatus next) {
    java.util.Objects.requireNonNull(next, "next");
    return switch (this) {
      case PENDING -> next == PROCESSING || next == CANCELLED;
      case PROCESSING -> next.isFinal();
      case PARTIAL, FAILED -> next == PROCESSING;
      case COMPLETED, CANCELLED -> false;
    };
  }
}
