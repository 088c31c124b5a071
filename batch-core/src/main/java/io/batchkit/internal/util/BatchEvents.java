package io.batchkit.internal.util;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchEvent.Type;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.CancellationSummary;
import io.batchkit.FailurePolicy;
import io.batchkit.Progress;
import java.time.Instant;

/**
 * The events every store records, made here so that each store words them the same way: the stores
 * call these in the step that makes the change, and store what they return.
 */
public final class BatchEvents {
  /** How a batch started: {@code startBatch}. */
  public static final String BY_CALL = "by startBatch";

  /**
   * How a batch started: at once, as it was created ({@code submit}, {@code autoStart}, or a start
   * time already past).
   */
  public static final String ON_CREATION =
      "on creation (submit, autoStart or a start time already past)";

  /** How a batch started: its scheduled start time came. */
  public static final String AT_START_TIME = "at its scheduled start time";

  private BatchEvents() {}

  /** A new batch, with its jobs. */
  public static BatchEvent created(Batch batch, Instant at) {
    return new BatchEvent(batch.id(), Type.CREATED, at, batch.progress().total() + " jobs");
  }

  /** A start, and how it came ({@link #BY_CALL}, {@link #ON_CREATION}, {@link #AT_START_TIME}). */
  public static BatchEvent started(BatchId id, Instant at, String how) {
    return new BatchEvent(id, Type.STARTED, at, how);
  }

  /** Jobs added to a waiting batch. */
  public static BatchEvent itemsAdded(BatchId id, Instant at, int added, long total) {
    return new BatchEvent(id, Type.ITEMS_ADDED, at, added + " jobs added; " + total + " in all");
  }

  /** A cancellation, with its counts. */
  public static BatchEvent cancelled(CancellationSummary summary, Instant at) {
    return new BatchEvent(
        summary.batchId(),
        Type.CANCELLED,
        at,
        "by cancelBatch: "
            + summary.cancelledQueued()
            + " queued jobs cancelled, "
            + summary.stoppingRunning()
            + " running told to stop, "
            + summary.alreadyFinished()
            + " had finished");
  }

  /** A failure policy that tripped. */
  public static BatchEvent policyTripped(
      BatchId id, Instant at, Progress progress, FailurePolicy policy) {
    return new BatchEvent(
        id,
        Type.FAILURE_POLICY_TRIPPED,
        at,
        progress.failed()
            + " of "
            + progress.finished()
            + " finished jobs failed, past "
            + policy
            + "; the queued jobs were cancelled");
  }

  /** Failed jobs queued again. */
  public static BatchEvent failedRetried(BatchId id, Instant at, long jobs) {
    return new BatchEvent(id, Type.FAILED_JOBS_RETRIED, at, jobs + " failed jobs queued again");
  }

  /** A batch with nothing pending any more, and its final status. */
  public static BatchEvent finished(BatchId id, Instant at, BatchStatus status, Progress progress) {
    return new BatchEvent(
        id,
        Type.FINISHED,
        at,
        status
            + ": "
            + progress.succeeded()
            + " succeeded, "
            + progress.failed()
            + " failed, "
            + progress.cancelled()
            + " cancelled");
  }
}
