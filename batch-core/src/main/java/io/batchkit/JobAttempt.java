package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.util.Optional;

/**
 * One ended attempt of a job: which node ran it, when, and how it ended. Read a job's attempts with
 * {@link BatchService#getJobHistory}; they are kept across {@link BatchService#retryFailed} and
 * deleted with their batch, or earlier by the history retention ({@link
 * BatchService.Builder#historyRetention}). An attempt still running is not in the history: its job
 * ({@link Job}) shows it.
 *
 * @param jobId the job
 * @param attempt the attempt's number, counted from 1 since the job was created or last retried by
 *     {@code retryFailed}
 * @param nodeId the node that ran it
 * @param startedAt when it started, by the clock of the node that ran it; for an attempt whose node
 *     never reported (its lease was lost, or it was cancelled before it began), when it was claimed
 * @param endedAt when its outcome was recorded (for {@link Outcome#LEASE_LOST}, when the job was
 *     taken back), by the clock of the service that recorded it
 * @param outcome how it ended
 * @param error why it failed, for {@link Outcome#FAILED}, {@link Outcome#RETRY_SCHEDULED}, {@link
 *     Outcome#TIMED_OUT} and {@link Outcome#LEASE_LOST}; never a payload
 */
public record JobAttempt(
    JobId jobId,
    int attempt,
    String nodeId,
    Instant startedAt,
    Instant endedAt,
    Outcome outcome,
    Optional<String> error) {

  /** How an attempt ended. */
  public enum Outcome {
    /** The processor returned; the job succeeded. */
    SUCCEEDED,
    /** The processor failed and no attempt was left; the job failed. */
    FAILED,
    /** The processor failed; the job was queued again for a later attempt. */
    RETRY_SCHEDULED,
    /** The attempt ran past the job timeout; the job was retried, or failed if none was left. */
    TIMED_OUT,
    /** The job's batch was cancelled or aborted while it ran, or before its outcome was stored. */
    CANCELLED,
    /**
     * The node lost the job: its lease ran out or the node died, and the job was taken back (queued
     * again, or failed if no attempt was left).
     */
    LEASE_LOST,
    /**
     * The node gave the job back unfinished because it was shutting down; the job was queued again
     * and this attempt is not counted against its attempts.
     */
    RELEASED
  }

  /**
   * Creates an attempt.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code attempt} is not positive or {@code nodeId} is blank
   */
  public JobAttempt {
    Checks.notNull(jobId, "jobId");
    Checks.positive(attempt, "attempt");
    Checks.notBlank(nodeId, "nodeId");
    Checks.notNull(startedAt, "startedAt");
    Checks.notNull(endedAt, "endedAt");
    Checks.notNull(outcome, "outcome");
    Checks.notNull(error, "error");
  }

  /**
   * Shows the job, attempt, node, times and outcome; never the error, which is the user's data (it
   * may quote the payload) and which no log line should carry by accident, as {@link Job} does.
   */
  @Override
  public String toString() {
    return "JobAttempt[jobId="
        + jobId
        + ", attempt="
        + attempt
        + ", nodeId="
        + nodeId
        + ", startedAt="
        + startedAt
        + ", endedAt="
        + endedAt
        + ", outcome="
        + outcome
        + "]";
  }
}
