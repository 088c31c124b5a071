package io.batchkit.internal.scheduler;

import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What an ended attempt comes to: the outcome the store is to record (succeeded, a retry at its
 * backoff, failed for good, cancelled, given back, or nothing when another node owns the job now),
 * with the listeners told, the node's figures and the circuit breakers counted, and the attempt's
 * start and time-out kept for its history. Each call is for a job whose report the calling thread
 * claimed ({@link RunningJob#claimReport}): a worker, the timeout watch giving up on a job, whoever
 * ends a job fetched ahead, or {@code close()}. Its fields are set once, in the constructor, and
 * what it calls is thread-safe.
 */
final class AttemptOutcomes {
  /** Logs under the service's name, as it did before the service was split into parts. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  /**
   * A job that started within this of its claim reports no start of its own: the claim's time,
   * which the store keeps, is its start, and a busy service makes no Instant and no copy of the
   * outcome per job for it.
   */
  private static final long START_TOLERANCE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

  /** What one attempt of a processor came to: a result or a failure. */
  record Attempt(String result, Throwable failure) {}

  private final ServiceConfig config;
  private final Listeners listeners;
  private final Backoff backoff;
  private final Stats stats;
  private final CircuitBreakers breakers;

  AttemptOutcomes(
      ServiceConfig config,
      Listeners listeners,
      Backoff backoff,
      Stats stats,
      CircuitBreakers breakers) {
    this.config = config;
    this.listeners = listeners;
    this.backoff = backoff;
    this.stats = stats;
    this.breakers = breakers;
  }

  /**
   * Ends the attempt of a job this thread claimed the report of: fires the listeners, counts it,
   * and returns the outcome to record (null if another node owns the job now), with when the
   * attempt started ({@code nanos} ago) and whether it timed out, for its history. The outcome
   * gives the batch's slot back.
   */
  JobOutcome conclude(RunningJob job, Attempt attempt, long nanos) {
    return conclude(job, attempt, nanos, true);
  }

  /**
   * {@link #conclude(RunningJob, Attempt, long)} with the outcome's {@code releasesSlot} given:
   * false when the batch's slot passes to the next job on the worker. The outcome is made once,
   * with all its parts, as every job on the hot path ends here.
   */
  JobOutcome conclude(RunningJob job, Attempt attempt, long nanos, boolean releasesSlot) {
    return decide(job, attempt, nanos, releasesSlot);
  }

  /**
   * Returns {@code outcome} giving the batch's slot back: for a worker that concluded its job
   * expecting to pass the slot on and then found no job to pass it to.
   */
  static JobOutcome releasingSlot(JobOutcome outcome) {
    return outcome.releasesSlot()
        ? outcome
        : new JobOutcome(
            outcome.jobId(),
            outcome.batchId(),
            outcome.fencingToken(),
            outcome.kind(),
            outcome.result(),
            outcome.error(),
            outcome.retryAt(),
            true,
            outcome.startedAt(),
            outcome.timedOut());
  }

  /**
   * Makes an ended attempt's outcome. A job that started records whether it timed out and, unless
   * it started as it was claimed (the store's claim time is then its start), when it started; a job
   * fetched ahead that never ran has no start to record.
   *
   * @param now the service clock's time as the attempt ended, if the caller read it; else null
   */
  private JobOutcome outcome(
      RunningJob job,
      JobOutcome.Kind kind,
      String result,
      String error,
      Instant retryAt,
      boolean releasesSlot,
      long nanos,
      Instant now) {
    boolean started = job.isStarted();
    boolean timedOut =
        started
            && job.stopReason() == RunningJob.Stop.TIMED_OUT
            && (kind == JobOutcome.Kind.FAILED || kind == JobOutcome.Kind.RETRY);
    boolean ownStart =
        started && (job.waitedNanos() >= START_TOLERANCE_NANOS || kind == JobOutcome.Kind.RELEASED);
    ClaimedJob claim = job.claim;
    return new JobOutcome(
        claim.id(),
        claim.batchId(),
        claim.fencingToken(),
        kind,
        Optional.ofNullable(result),
        Optional.ofNullable(error),
        Optional.ofNullable(retryAt),
        releasesSlot,
        ownStart
            ? Optional.of(now != null ? now.minusNanos(nanos) : startedAgo(nanos))
            : Optional.empty(),
        timedOut);
  }

  /** The instant {@code nanos} before now, by the service's clock: when an attempt started. */
  private Instant startedAgo(long nanos) {
    return config.clock().instant().minusNanos(nanos);
  }

  /**
   * Tells the listeners that an attempt ended without an outcome (see {@code jobReleased}); only
   * for an attempt they were told started: a job fetched ahead that never ran ends unseen.
   */
  void released(RunningJob job) {
    if (job.wasAnnounced()) {
      listeners.fire("jobReleased", job.claim.id(), l -> l.jobReleased(job));
    }
  }

  /** Gives back a job that started: its history keeps the attempt, as released. */
  JobOutcome releasedAfterStart(RunningJob job) {
    return JobOutcome.released(job.claim).withStart(startedAgo(job.nanosSinceStart()));
  }

  /** The outcome of an ended attempt, with its listeners fired and its figures counted. */
  private JobOutcome decide(RunningJob job, Attempt attempt, long nanos, boolean releasesSlot) {
    ClaimedJob claim = job.claim;
    RunningJob.Stop stop = job.stopReason();
    Throwable failure = attempt.failure();
    String type = job.batch.jobType();
    if (stop == RunningJob.Stop.LOST) {
      breakers.ended(type, claim.id());
      released(job);
      return null; // another node owns the job now; the store would reject anything we send
    }
    if (stop == RunningJob.Stop.CANCELLED) {
      breakers.ended(type, claim.id());
      listeners.fire("jobCancelled", claim.id(), l -> l.jobCancelled(job));
      return outcome(job, JobOutcome.Kind.CANCELLED, null, null, null, releasesSlot, nanos, null);
    }
    if (failure == null) {
      breakers.succeeded(type, claim.id());
      // one read of the clock for the counts and the start (the hot path: every no-op job)
      Instant now = config.clock().instant();
      long millis = now.toEpochMilli();
      stats.record(true, nanos, Math.floorDiv(millis, 1000));
      stats.ended(true, Math.floorDiv(millis, 60_000));
      String stored = attempt.result();
      listeners.fire("jobSucceeded", claim.id(), l -> l.jobSucceeded(job, stored));
      return outcome(job, JobOutcome.Kind.SUCCEEDED, stored, null, null, releasesSlot, nanos, now);
    }
    if (stop == RunningJob.Stop.SHUTDOWN) {
      breakers.ended(type, claim.id());
      released(job);
      return outcome(job, JobOutcome.Kind.RELEASED, null, null, null, releasesSlot, nanos, null);
    }
    breakers.failed(type, claim.id());
    Instant now = config.clock().instant();
    long millis = now.toEpochMilli();
    stats.record(false, nanos, Math.floorDiv(millis, 1000));
    String error = FailureText.describe(failure);
    boolean retry = claim.attempt() < job.batch.maxAttempts();
    if (!retry) {
      stats.ended(false, Math.floorDiv(millis, 60_000));
    }
    JobOutcome outcome;
    if (retry) {
      Duration delay =
          backoff.delayAfter(claim.attempt(), ThreadLocalRandom.current().nextDouble());
      Instant at = now.plus(delay);
      outcome = outcome(job, JobOutcome.Kind.RETRY, null, error, at, releasesSlot, nanos, now);
    } else {
      outcome = outcome(job, JobOutcome.Kind.FAILED, null, error, null, releasesSlot, nanos, now);
    }
    LOG.debug("{} failed (retry: {}): {}", job, retry, error);
    listeners.fire("jobFailed", claim.id(), l -> l.jobFailed(job, failure, retry));
    return outcome;
  }
}
