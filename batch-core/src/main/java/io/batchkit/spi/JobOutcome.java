package io.batchkit.spi;

import io.batchkit.BatchId;
import io.batchkit.JobId;
import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.util.Optional;

/**
 * How one claimed job's attempt ended, handed to {@link JobStore#complete}.
 *
 * @param jobId the job
 * @param batchId its batch
 * @param fencingToken the token from its claim
 * @param kind what happened
 * @param result the processor's result, for {@link Kind#SUCCEEDED}
 * @param error a description of the failure, for {@link Kind#FAILED} and {@link Kind#RETRY}
 * @param retryAt when the job is due again, for {@link Kind#RETRY}
 * @param releasesSlot true (what the factories make) if the slot of its batch that the job ran in
 *     goes back with this outcome; false if the node keeps the slot for a job of the same batch it
 *     fetched ahead, or the job never held one (see {@link ClaimRequest})
 * @param startedAt when the node started the attempt, for its history ({@link
 *     io.batchkit.JobAttempt}) and the job's start time; empty if the caller does not say, and then
 *     the store keeps the claim's time, except for {@link Kind#RELEASED}: there empty means the job
 *     was given back before it started, so the store records no attempt and the job shows no start
 * @param timedOut true if a {@link Kind#FAILED} or {@link Kind#RETRY} attempt ran past its timeout,
 *     so that its history says so
 */
public record JobOutcome(
    JobId jobId,
    BatchId batchId,
    long fencingToken,
    Kind kind,
    Optional<String> result,
    Optional<String> error,
    Optional<Instant> retryAt,
    boolean releasesSlot,
    Optional<Instant> startedAt,
    boolean timedOut) {

  /** What happened to the attempt. */
  public enum Kind {
    /** The processor returned: the job becomes SUCCEEDED. */
    SUCCEEDED,
    /** The attempt failed and no attempt remains: the job becomes FAILED. */
    FAILED,
    /**
     * The attempt failed and another will follow: the job is QUEUED again, due at retryAt. If the
     * store counts the job's attempt as the batch's last, it records FAILED instead.
     */
    RETRY,
    /** The job stopped because its batch was cancelled: the job becomes CANCELLED. */
    CANCELLED,
    /**
     * The node gave the job back unfinished (it is shutting down): the job is QUEUED again, due at
     * once, and this attempt is not counted.
     */
    RELEASED
  }

  /**
   * Creates an outcome.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code retryAt} is missing for {@link Kind#RETRY}, or
   *     {@code timedOut} is set for a kind other than {@link Kind#FAILED} and {@link Kind#RETRY}
   */
  public JobOutcome {
    Checks.notNull(jobId, "jobId");
    Checks.notNull(batchId, "batchId");
    Checks.notNull(kind, "kind");
    Checks.notNull(result, "result");
    Checks.notNull(error, "error");
    Checks.notNull(retryAt, "retryAt");
    Checks.notNull(startedAt, "startedAt");
    if (kind == Kind.RETRY && retryAt.isEmpty()) {
      throw new IllegalArgumentException("retryAt is required for a RETRY outcome");
    }
    if (timedOut && kind != Kind.FAILED && kind != Kind.RETRY) {
      throw new IllegalArgumentException("only a FAILED or RETRY outcome can have timed out");
    }
  }

  /**
   * Creates an outcome that does not say when its attempt started, nor whether it timed out.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code retryAt} is missing for {@link Kind#RETRY}
   */
  public JobOutcome(
      JobId jobId,
      BatchId batchId,
      long fencingToken,
      Kind kind,
      Optional<String> result,
      Optional<String> error,
      Optional<Instant> retryAt,
      boolean releasesSlot) {
    this(
        jobId,
        batchId,
        fencingToken,
        kind,
        result,
        error,
        retryAt,
        releasesSlot,
        Optional.empty(),
        false);
  }

  /**
   * Creates an outcome that gives its slot back.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code retryAt} is missing for {@link Kind#RETRY}
   */
  public JobOutcome(
      JobId jobId,
      BatchId batchId,
      long fencingToken,
      Kind kind,
      Optional<String> result,
      Optional<String> error,
      Optional<Instant> retryAt) {
    this(jobId, batchId, fencingToken, kind, result, error, retryAt, true);
  }

  /** Returns this outcome, keeping the slot (see {@code releasesSlot}). */
  public JobOutcome withoutSlot() {
    return releasesSlot
        ? new JobOutcome(
            jobId, batchId, fencingToken, kind, result, error, retryAt, false, startedAt, timedOut)
        : this;
  }

  /**
   * Returns this outcome with the time its attempt started.
   *
   * @throws NullPointerException if {@code at} is null
   */
  public JobOutcome withStart(Instant at) {
    return new JobOutcome(
        jobId,
        batchId,
        fencingToken,
        kind,
        result,
        error,
        retryAt,
        releasesSlot,
        Optional.of(Checks.notNull(at, "at")),
        timedOut);
  }

  /**
   * Returns this outcome marked as an attempt that ran past its timeout.
   *
   * @throws IllegalArgumentException if this is not a {@link Kind#FAILED} or {@link Kind#RETRY}
   *     outcome
   */
  public JobOutcome asTimedOut() {
    return new JobOutcome(
        jobId, batchId, fencingToken, kind, result, error, retryAt, releasesSlot, startedAt, true);
  }

  /** Returns a {@link Kind#SUCCEEDED} outcome; {@code result} may be null. */
  public static JobOutcome succeeded(ClaimedJob job, String result) {
    return new JobOutcome(
        job.id(),
        job.batchId(),
        job.fencingToken(),
        Kind.SUCCEEDED,
        Optional.ofNullable(result),
        Optional.empty(),
        Optional.empty());
  }

  /** Returns a {@link Kind#FAILED} outcome. */
  public static JobOutcome failed(ClaimedJob job, String error) {
    return new JobOutcome(
        job.id(),
        job.batchId(),
        job.fencingToken(),
        Kind.FAILED,
        Optional.empty(),
        Optional.of(error),
        Optional.empty());
  }

  /** Returns a {@link Kind#RETRY} outcome due at {@code retryAt}. */
  public static JobOutcome retry(ClaimedJob job, String error, Instant retryAt) {
    return new JobOutcome(
        job.id(),
        job.batchId(),
        job.fencingToken(),
        Kind.RETRY,
        Optional.empty(),
        Optional.of(error),
        Optional.of(retryAt));
  }

  /** Returns a {@link Kind#CANCELLED} outcome. */
  public static JobOutcome cancelled(ClaimedJob job) {
    return new JobOutcome(
        job.id(),
        job.batchId(),
        job.fencingToken(),
        Kind.CANCELLED,
        Optional.empty(),
        Optional.empty(),
        Optional.empty());
  }

  /** Returns a {@link Kind#RELEASED} outcome. */
  public static JobOutcome released(ClaimedJob job) {
    return new JobOutcome(
        job.id(),
        job.batchId(),
        job.fencingToken(),
        Kind.RELEASED,
        Optional.empty(),
        Optional.empty(),
        Optional.empty());
  }

  /**
   * Shows the ids, token, kind and times; never the result or the error, which are the user's data
   * (an error may quote the payload) and which no log line should carry by accident.
   */
  @Override
  public String toString() {
    return "JobOutcome[jobId="
        + jobId
        + ", batchId="
        + batchId
        + ", fencingToken="
        + fencingToken
        + ", kind="
        + kind
        + ", retryAt="
        + retryAt.map(Instant::toString).orElse("-")
        + ", releasesSlot="
        + releasesSlot
        + ", startedAt="
        + startedAt.map(Instant::toString).orElse("-")
        + ", timedOut="
        + timedOut
        + "]";
  }
}
