package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Instant;

/**
 * Something that happened to a batch, recorded by the store in the same step as the change itself,
 * so that an operator can tell after the fact when a batch started, was cancelled or finished, and
 * why. Read them with {@link BatchService#getBatchEvents}; they are deleted with their batch.
 *
 * @param batchId the batch
 * @param type what happened
 * @param at when, by the clock of the service that made the change
 * @param detail what the change came to, in words: the counts of a cancellation, the status a batch
 *     finished with, the number of items added; never a payload
 */
public record BatchEvent(BatchId batchId, Type type, Instant at, String detail) {
  /** The longest detail stored; longer ones are cut. */
  public static final int MAX_DETAIL_LENGTH = 500;

  /** What happened to a batch. */
  public enum Type {
    /** It was stored, with its first jobs. */
    CREATED,
    /** It started: by {@code startBatch}, on creation ({@code autoStart}) or at its start time. */
    STARTED,
    /** Jobs were added while it waited ({@code addItems}). */
    ITEMS_ADDED,
    /** It was cancelled; the detail has the cancellation's counts. */
    CANCELLED,
    /** Its failure policy tripped: its queued jobs were cancelled and it ends FAILED. */
    FAILURE_POLICY_TRIPPED,
    /** Its failed jobs were queued again ({@code retryFailed}). */
    FAILED_JOBS_RETRIED,
    /** It finished: nothing is pending; the detail is its final status. */
    FINISHED
  }

  /**
   * Creates an event; a detail over {@value #MAX_DETAIL_LENGTH} characters is cut to that.
   *
   * @throws NullPointerException if an argument is null
   */
  public BatchEvent {
    Checks.notNull(batchId, "batchId");
    Checks.notNull(type, "type");
    Checks.notNull(at, "at");
    Checks.notNull(detail, "detail");
    if (detail.length() > MAX_DETAIL_LENGTH) {
      detail = detail.substring(0, MAX_DETAIL_LENGTH);
    }
  }
}
