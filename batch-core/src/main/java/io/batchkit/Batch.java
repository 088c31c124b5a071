package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;

/**
 * A snapshot of a batch: its settings, status and exact {@link Progress} at the moment it was read.
 * Immutable; read it again with {@link BatchService#getBatch(BatchId)} to see later changes.
 *
 * @param id the batch's id
 * @param name a human-readable name
 * @param jobType the job type, which selects the {@link JobProcessor}
 * @param priority how urgently its jobs run
 * @param metadata the caller's key/value pairs, unmodifiable
 * @param maxConcurrency at most this many of its jobs run at once, over all nodes
 * @param maxAttempts how often a job is tried before it fails for good
 * @param jobTimeout how long one attempt may run before it is interrupted and fails
 * @param failurePolicy when the batch is aborted because too many jobs failed
 * @param idempotencyKey the key it was created with, if any
 * @param status its status
 * @param progress how many jobs are in each status
 * @param createdAt when it was created
 * @param startedAt when it was started, if it was
 * @param updatedAt when its status or progress last changed (jobs fetched ahead, which move from
 *     queued to processing without their batch's row on some stores, may leave it unchanged)
 * @param completedAt when it reached its final status, if it has
 * @param estimatedTimeRemaining while it runs, the time left at the rate seen so far, if known
 */
public record Batch(
    BatchId id,
    String name,
    String jobType,
    Priority priority,
    Map<String, String> metadata,
    int maxConcurrency,
    int maxAttempts,
    Duration jobTimeout,
    FailurePolicy failurePolicy,
    Optional<String> idempotencyKey,
    BatchStatus status,
    Progress progress,
    Instant createdAt,
    Optional<Instant> startedAt,
    Instant updatedAt,
    Optional<Instant> completedAt,
    Optional<Duration> estimatedTimeRemaining) {

  /**
   * Creates a snapshot; copies {@code metadata}.
   *
   * @throws NullPointerException if any component is null
   * @throws IllegalArgumentException if {@code maxConcurrency}, {@code maxAttempts} or {@code
   *     jobTimeout} is not positive (a batch that can run no job would never finish)
   */
  public Batch {
    Checks.notNull(id, "id");
    Checks.notNull(name, "name");
    Checks.notNull(jobType, "jobType");
    Checks.notNull(priority, "priority");
    metadata = Map.copyOf(Checks.notNull(metadata, "metadata"));
    Checks.positive(maxConcurrency, "maxConcurrency");
    Checks.positive(maxAttempts, "maxAttempts");
    Checks.positive(jobTimeout, "jobTimeout");
    Checks.notNull(failurePolicy, "failurePolicy");
    Checks.notNull(idempotencyKey, "idempotencyKey");
    Checks.notNull(status, "status");
    Checks.notNull(progress, "progress");
    Checks.notNull(createdAt, "createdAt");
    Checks.notNull(startedAt, "startedAt");
    Checks.notNull(updatedAt, "updatedAt");
    Checks.notNull(completedAt, "completedAt");
    Checks.notNull(estimatedTimeRemaining, "estimatedTimeRemaining");
  }

  /**
   * Returns true once the batch has its final status and none of its jobs is queued or running. A
   * cancelled batch is final at once, but finished only when its running jobs have stopped.
   */
  public boolean isFinished() {
    return status.isFinal() && progress.pending() == 0;
  }

  /**
   * Returns a copy with another estimate of the time remaining.
   *
   * @throws NullPointerException if {@code estimate} is null
   */
  public Batch withEstimatedTimeRemaining(Optional<Duration> estimate) {
    return new Batch(
        id,
        name,
        jobType,
        priority,
        metadata,
        maxConcurrency,
        maxAttempts,
        jobTimeout,
        failurePolicy,
        idempotencyKey,
        status,
        progress,
        createdAt,
        startedAt,
        updatedAt,
        completedAt,
        estimate);
  }

  /**
   * Shows the batch's settings, status and progress, with the keys of its metadata but not their
   * values, which may be sensitive (as {@link BatchRequest.Builder#toString()} does).
   */
  @Override
  public String toString() {
    return "Batch[id="
        + id
        + ", name="
        + name
        + ", jobType="
        + jobType
        + ", priority="
        + priority
        + ", metadata="
        + metadata.keySet()
        + ", maxConcurrency="
        + maxConcurrency
        + ", maxAttempts="
        + maxAttempts
        + ", jobTimeout="
        + jobTimeout
        + ", status="
        + status
        + ", progress="
        + progress
        + ", createdAt="
        + createdAt
        + ", startedAt="
        + startedAt.map(Instant::toString).orElse("-")
        + ", completedAt="
        + completedAt.map(Instant::toString).orElse("-")
        + "]";
  }
}
