package io.batchkit;

/**
 * Hears what happens to batches and jobs on one {@link BatchService}. Every method has a no-op
 * default, so implement only what you need.
 *
 * <p>Methods are called synchronously on batchkit threads (the job's worker for job events; the
 * caller, the dispatcher or, on the in-memory store, a worker for batch events): keep them short
 * and hand slow work to your own executor, since a listener that blocks holds up that thread. A
 * job-event listener that blocks keeps the job's slot busy and the job {@code PROCESSING} (its
 * lease is renewed); time spent in {@link #jobStarted} counts against the job's timeout, and if the
 * timeout passes before the listener returns, the attempt ends timed out and the processor is not
 * called. A batch-event listener that blocks on the dispatcher stops the whole service from
 * starting jobs, and delays its timeouts and lease renewals, until it returns. A listener that
 * throws (even an {@link Error}) is logged at WARN and otherwise ignored: it never changes a job's
 * or a batch's outcome. Batch-finished events are raised by the node whose step finished the batch.
 * A job fetched ahead ({@code BatchService.Builder.claimAhead}) that is cancelled before it started
 * gets {@link #jobCancelled} without {@link #jobStarted}, on the thread that cancelled it.
 *
 * <p>Job events are raised on the worker as the attempt ends, just before its outcome is stored, so
 * the stored status can still differ: a job that succeeded while its batch was being cancelled is
 * stored {@code CANCELLED}, and the outcome of a job whose lease was lost is refused (the job runs
 * again elsewhere). Read {@link BatchService#getJobs} for what was stored.
 */
public interface BatchListener {
  /** A batch was created (not raised for a repeated idempotency key). */
  default void batchCreated(Batch batch) {}

  /** A batch was started. */
  default void batchStarted(Batch batch) {}

  /** A batch reached its final status and none of its jobs runs any more. */
  default void batchFinished(Batch batch) {}

  /** An attempt of a job started on this service. */
  default void jobStarted(JobContext job) {}

  /** A running job reported progress through {@link JobContext#reportProgress}. */
  default void jobProgress(JobContext job, double fraction, String message) {}

  /** A job succeeded. */
  default void jobSucceeded(JobContext job, String result) {}

  /**
   * An attempt failed.
   *
   * @param willRetry whether the job is queued again for another attempt
   */
  default void jobFailed(JobContext job, Throwable error, boolean willRetry) {}

  /** A running job ended because its batch was cancelled or aborted. */
  default void jobCancelled(JobContext job) {}

  /**
   * Called when a started attempt ends without an outcome: this node lost the job's lease (another
   * node may run it now), or gave the job back as it shut down. The job runs again; the attempt
   * counts as neither a success nor a failure. After {@link #jobStarted}, an attempt ends with
   * {@code jobSucceeded}, {@code jobFailed}, {@code jobCancelled} or this.
   */
  default void jobReleased(JobContext job) {}

  /**
   * The circuit breaker of {@code jobType} opened ({@code BatchService.Builder.circuitBreaker}): no
   * job of the type starts on this service until a trial succeeds.
   */
  default void circuitOpened(String jobType) {}

  /**
   * The circuit breaker of {@code jobType} closed: its trial job succeeded, and jobs start again.
   */
  default void circuitClosed(String jobType) {}
}
