package io.batchkit.internal.util;

import io.batchkit.JobAttempt;
import io.batchkit.JobStatus;
import io.batchkit.spi.JobOutcome;
import java.time.Instant;

/**
 * Which ended attempts a store writes as records of their own, and which it reads from the job (see
 * {@link io.batchkit.spi.JobStore#listJobAttempts}): the one rule every store keeps, so that a
 * job's history reads the same on each. A job's final attempt (succeeded, failed, cancelled) is
 * what the job itself shows, so the common case, a job that succeeds at once, writes nothing more
 * than its outcome; an attempt that the job's next attempt would overwrite gets a record.
 *
 * <p>Ownership: no state; any thread may call it.
 */
public final class AttemptRecords {
  /**
   * The owner prefix of a job leased to a worker outside the service ({@link
   * io.batchkit.BatchService#poll}); no node id starts with it.
   */
  public static final String WORKER_PREFIX = "pull:";

  private AttemptRecords() {}

  /** Returns the error recorded when the lease of a job held by {@code owner} ran out. */
  public static String leaseExpired(String owner) {
    return owner != null && owner.startsWith(WORKER_PREFIX)
        ? "lease of worker " + owner + " expired"
        : "lease expired on node " + owner;
  }

  /**
   * Returns how a store moves a job by an accepted outcome of kind {@code reported}: {@code
   * CANCELLED} when its batch already ended; {@code FAILED} for a retry of a job whose {@code
   * attempt} (the store's count) is already the batch's {@code maxAttempts}, whatever its reporter
   * believed (a pull worker's token carries an attempt it could change); else as reported.
   */
  public static JobOutcome.Kind effectiveKind(
      JobOutcome.Kind reported, boolean batchEnded, int attempt, int maxAttempts) {
    if (batchEnded) {
      return JobOutcome.Kind.CANCELLED;
    }
    return reported == JobOutcome.Kind.RETRY && attempt >= maxAttempts
        ? JobOutcome.Kind.FAILED
        : reported;
  }

  /**
   * Returns what to record for an accepted outcome that moves its job by {@code kind} (its own, or
   * {@code CANCELLED} when its batch already ended), or null when nothing is recorded: the job's
   * final state shows the attempt (succeeded, cancelled, failed but not by its timeout), or the job
   * never started (given back before it ran).
   */
  public static JobAttempt.Outcome recorded(JobOutcome.Kind kind, JobOutcome outcome) {
    return switch (kind) {
      case SUCCEEDED, CANCELLED -> null;
      case FAILED -> outcome.timedOut() ? JobAttempt.Outcome.TIMED_OUT : null;
      case RETRY ->
          outcome.timedOut() ? JobAttempt.Outcome.TIMED_OUT : JobAttempt.Outcome.RETRY_SCHEDULED;
      case RELEASED -> outcome.startedAt().isPresent() ? JobAttempt.Outcome.RELEASED : null;
    };
  }

  /**
   * Returns the error recorded with an attempt that ended {@code recorded} by {@code outcome}: the
   * outcome's, except for a job given back, which did not fail (null).
   */
  public static String error(JobAttempt.Outcome recorded, JobOutcome outcome) {
    return recorded == JobAttempt.Outcome.RELEASED ? null : outcome.error().orElse(null);
  }

  /**
   * Returns the start a job keeps after {@code outcome}: the one its node reported; else, for a job
   * given back before it started, none (null: that claim made no attempt, so the job shows none and
   * {@link #shownBy} cannot take it for one); else {@code claimed}, the claim's time.
   */
  public static Instant start(JobOutcome outcome, Instant claimed) {
    if (outcome.startedAt().isPresent()) {
      return outcome.startedAt().get();
    }
    return outcome.kind() == JobOutcome.Kind.RELEASED ? null : claimed;
  }

  /**
   * Returns the outcome of the final attempt that a job in {@code status} shows, or null if the
   * status is not final. A store reads it from the job only when the job started (it has a node and
   * a start time) and no record has the job's current fencing token.
   */
  public static JobAttempt.Outcome shownBy(JobStatus status) {
    return switch (status) {
      case SUCCEEDED -> JobAttempt.Outcome.SUCCEEDED;
      case FAILED -> JobAttempt.Outcome.FAILED;
      case CANCELLED -> JobAttempt.Outcome.CANCELLED;
      case QUEUED, PROCESSING -> null;
    };
  }
}
