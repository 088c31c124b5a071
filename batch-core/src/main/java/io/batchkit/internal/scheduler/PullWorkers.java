package io.batchkit.internal.scheduler;

import dev.failsafe.RateLimiter;
import io.batchkit.Batch;
import io.batchkit.BatchException;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.LeaseState;
import io.batchkit.LeasedJob;
import io.batchkit.internal.util.Checks;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where jobs are leased to workers outside the service, and where their reports are taken: {@link
 * BatchService#poll}, {@link BatchService#complete}, {@link BatchService#fail} and {@link
 * BatchService#extend}, with the long poll's wait for work.
 *
 * <p>Each leased job is claimed in a store step of its own, for an owner of its own ({@link
 * LeaseToken#owner}): the store then counts its slot in a row that only that lease uses, so the
 * slot goes back exactly when the job ends, whether by a report or by its lease running out ({@link
 * JobStore#requeueExpired} drops the slots of owners that run nothing), and no node's death or
 * liveness touches it. The reports go through the same store steps as the service's own outcomes
 * and lease renewals, so the fencing token protects them the same way.
 *
 * <p>Ownership: the fields are set once in the constructor, apart from {@link #signals} and {@link
 * #closed}, which are guarded by {@link #lock}, and the banked permits, each an atomic flag. Every
 * method runs on the caller's thread; any number of callers may be in it at once.
 */
final class PullWorkers {
  private static final Logger LOG = LoggerFactory.getLogger(PullWorkers.class);

  /**
   * How long a report's check renews the lease for: long enough that no sweep takes the job back
   * between the check and the outcome, short enough that a report the store then fails leaves the
   * job to the queue soon if the worker does not report again.
   */
  private static final Duration REPORT_LEASE = Duration.ofMinutes(1);

  private final ServiceConfig config;
  private final JobStore store;
  private final Map<String, RateLimiter<Object>> rateLimiters;

  /**
   * Per rate-limited type, whether a permit taken for a claim that found no job is kept for the
   * next one, so that polls that find nothing do not spend the permits the type's jobs need.
   */
  private final Map<String, AtomicBoolean> bankedPermits = new HashMap<>();

  private final Backoff backoff;
  private final Stats stats;
  private final JobRunner runner;
  private final Runnable wakeDispatcher;

  private final ReentrantLock lock = new ReentrantLock();
  private final Condition workSignalled = lock.newCondition();

  /** How many times work was signalled; guarded by {@link #lock}. */
  private long signals;

  /** Set by {@link #close()}; guarded by {@link #lock}. */
  private boolean closed;

  PullWorkers(
      ServiceConfig config,
      Map<String, RateLimiter<Object>> rateLimiters,
      Backoff backoff,
      Stats stats,
      JobRunner runner,
      Runnable wakeDispatcher) {
    this.config = config;
    this.store = config.store();
    this.rateLimiters = rateLimiters;
    rateLimiters.keySet().forEach(type -> bankedPermits.put(type, new AtomicBoolean()));
    this.backoff = backoff;
    this.stats = stats;
    this.runner = runner;
    this.wakeDispatcher = wakeDispatcher;
  }

  /** See {@link BatchService#poll(String, int, Duration)}. */
  List<LeasedJob> poll(String jobType, int maxJobs, Duration lease) {
    checkPoll(jobType, maxJobs, lease);
    return leaseJobs(jobType, maxJobs, lease);
  }

  /** See {@link BatchService#poll(String, int, Duration, Duration)}. */
  List<LeasedJob> poll(String jobType, int maxJobs, Duration lease, Duration wait) {
    checkPoll(jobType, maxJobs, lease);
    Checks.between(wait, Duration.ZERO, BatchService.MAX_POLL_WAIT, "wait");
    long deadline = System.nanoTime() + wait.toNanos();
    // a signal (new work, a freed slot) ends a wait at once; without one, a slot another node
    // freed is found by looking again, first after a poll interval, then less often while idle
    long recheckNanos = config.pollInterval().toNanos();
    long longestNanos = config.maxPollInterval().toNanos();
    RateLimit limit = config.rateLimits().get(jobType);
    if (limit != null) {
      // a poll the limiter stopped looks again when its next permit is due, not later
      longestNanos = Math.min(longestNanos, Math.max(1, limit.per().toNanos() / limit.permits()));
      recheckNanos = Math.min(recheckNanos, longestNanos);
    }
    while (true) {
      long seen = signalsSeen();
      List<LeasedJob> jobs = leaseJobs(jobType, maxJobs, lease);
      long left = deadline - System.nanoTime();
      if (!jobs.isEmpty() || left <= 0 || !awaitWork(seen, Math.min(left, recheckNanos))) {
        return jobs;
      }
      recheckNanos = Math.min(recheckNanos * 2, longestNanos);
    }
  }

  private static void checkPoll(String jobType, int maxJobs, Duration lease) {
    Checks.notBlank(jobType, "jobType", BatchRequest.MAX_JOB_TYPE_LENGTH);
    Checks.between(maxJobs, 1, BatchService.MAX_POLL_JOBS, "maxJobs");
    Checks.between(lease, BatchService.MIN_LEASE, BatchService.MAX_LEASE, "lease");
  }

  /**
   * Leases up to {@code maxJobs} jobs, one store step each, as long as the type's rate limit gives
   * permits. If the store fails after some were leased, returns those (the worker has them, and
   * their lease would keep them from everyone else) and logs the failure; if it fails first,
   * throws.
   */
  private List<LeasedJob> leaseJobs(String jobType, int maxJobs, Duration lease) {
    RateLimiter<Object> limiter = rateLimiters.get(jobType);
    AtomicBoolean banked = bankedPermits.get(jobType);
    List<LeasedJob> leased = new ArrayList<>();
    while (leased.size() < maxJobs) {
      if (limiter != null && !banked.compareAndSet(true, false) && !limiter.tryAcquirePermit()) {
        break;
      }
      Instant now = config.clock().instant();
      Instant until = now.plus(lease);
      LeaseToken.Secret secret = LeaseToken.newSecret();
      List<ClaimedJob> claimed;
      try {
        claimed =
            store.claim(
                new ClaimRequest(
                    secret.owner(),
                    1,
                    now,
                    until,
                    config.priorityAging(),
                    Map.of(jobType, 1),
                    Map.of(),
                    config.sharedRateLimits()));
      } catch (RuntimeException e) {
        if (limiter != null) {
          banked.set(true); // the permit was not used
        }
        if (leased.isEmpty()) {
          throw e;
        }
        LOG.warn(
            "job store failed while leasing jobs of type '{}' to a worker; returning the {} leased"
                + " before it ({})",
            jobType,
            leased.size(),
            e.toString());
        break;
      }
      if (claimed.isEmpty()) {
        if (limiter != null) {
          banked.set(true); // kept for the next poll: this one found no job to spend it on
        }
        break;
      }
      ClaimedJob job = claimed.get(0);
      LeaseToken token =
          new LeaseToken(job.id(), job.batchId(), job.fencingToken(), job.attempt(), secret);
      leased.add(
          new LeasedJob(
              job.id(), job.batchId(), jobType, job.payload(), job.attempt(), token.text(), until));
    }
    if (!leased.isEmpty()) {
      LOG.debug("leased {} jobs of type '{}' to a worker", leased.size(), jobType);
    }
    return leased;
  }

  /** See {@link BatchService#complete}. */
  boolean complete(String tokenText, String result) {
    LeaseToken token = LeaseToken.parse(tokenText);
    String problem =
        result == null
            ? null
            : BatchRequestValidator.resultProblem(result, config.maxPayloadBytes());
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
    JobOutcome outcome =
        new JobOutcome(
            token.jobId(),
            token.batchId(),
            token.fencingToken(),
            JobOutcome.Kind.SUCCEEDED,
            Optional.ofNullable(result),
            Optional.empty(),
            Optional.empty());
    return record(token, outcome);
  }

  /** See {@link BatchService#fail}. */
  boolean fail(String tokenText, String error, boolean retryable) {
    LeaseToken token = LeaseToken.parse(tokenText);
    String text = FailureText.of(Checks.notNull(error, "error"));
    Optional<Batch> batch = store.findBatch(token.batchId());
    if (batch.isEmpty()) {
      return false; // deleted with its jobs
    }
    Instant now = config.clock().instant();
    // the token's attempt is the worker's word: the store judges a retry by its own count again
    boolean retry = retryable && token.attempt() < batch.get().maxAttempts();
    JobOutcome outcome =
        retry
            ? new JobOutcome(
                token.jobId(),
                token.batchId(),
                token.fencingToken(),
                JobOutcome.Kind.RETRY,
                Optional.empty(),
                Optional.of(text),
                Optional.of(
                    now.plus(
                        backoff.delayAfter(
                            token.attempt(), ThreadLocalRandom.current().nextDouble()))))
            : new JobOutcome(
                token.jobId(),
                token.batchId(),
                token.fencingToken(),
                JobOutcome.Kind.FAILED,
                Optional.empty(),
                Optional.of(text),
                Optional.empty());
    return record(token, outcome);
  }

  /** See {@link BatchService#release}. */
  boolean release(String tokenText) {
    LeaseToken token = LeaseToken.parse(tokenText);
    return record(token, JobOutcome.released(claimOf(token)));
  }

  /**
   * Records a worker's outcome, if the worker still holds the lease; returns whether the store took
   * it. The store's outcome step checks the fencing token only, which a job's visible fields let
   * anyone guess, so the lease's owner, which only the token's secret names, is checked first: a
   * renewal by that owner. No other claim can follow while the renewed lease runs, and the outcome
   * then names the same claim by its fencing token. Like the service's own outcomes, the batches it
   * changed are acted on ({@link JobRunner#afterChange}), and the slot it freed is offered at once:
   * to the waiting long polls and to the dispatcher.
   */
  private boolean record(LeaseToken token, JobOutcome outcome) {
    if (renew(token, REPORT_LEASE) == LeaseState.LOST) {
      LOG.debug("refused the report on {}: the lease is no longer held", token);
      return false;
    }
    CompletionResult result = store.complete(List.of(outcome), config.clock().instant());
    boolean accepted = !result.rejected().contains(token.jobId());
    if (accepted) {
      JobOutcome.Kind kind = outcome.kind();
      if (kind == JobOutcome.Kind.SUCCEEDED || kind == JobOutcome.Kind.FAILED) {
        // the store-wide figures sum the nodes': a job a worker ran counts where it reported
        stats.ended(
            kind == JobOutcome.Kind.SUCCEEDED, Math.floorDiv(config.clock().millis(), 60_000));
      }
      workAppeared();
      wakeDispatcher.run();
    } else {
      LOG.debug("refused the report on {}: the lease is no longer held", token);
    }
    runner.afterChange(result.batches());
    return accepted;
  }

  /** The claim a token names, as the store's outcome factories take it. */
  private static ClaimedJob claimOf(LeaseToken token) {
    return new ClaimedJob(
        token.jobId(), token.batchId(), "", token.attempt(), token.fencingToken());
  }

  /** See {@link BatchService#extend}. */
  LeaseState extend(String tokenText, Duration lease) {
    LeaseToken token = LeaseToken.parse(tokenText);
    Checks.between(lease, BatchService.MIN_LEASE, BatchService.MAX_LEASE, "lease");
    return renew(token, lease);
  }

  /** Renews the lease for {@code lease} from now, if its owner still holds it. */
  private LeaseState renew(LeaseToken token, Duration lease) {
    HeartbeatResult result =
        store.heartbeat(
            token.owner(),
            Map.of(token.jobId(), token.fencingToken()),
            config.clock().instant().plus(lease));
    if (result.lost().contains(token.jobId())) {
      return LeaseState.LOST;
    }
    return result.cancelRequested().contains(token.jobId())
        ? LeaseState.CANCELLED
        : LeaseState.HELD;
  }

  /** Tells the waiting long polls that work may be due: new jobs, or a freed slot. */
  void workAppeared() {
    lock.lock();
    try {
      signals++;
      workSignalled.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Ends every wait at once; the waiting polls return what they have (none). */
  void close() {
    lock.lock();
    try {
      closed = true;
      workSignalled.signalAll();
    } finally {
      lock.unlock();
    }
  }

  private long signalsSeen() {
    lock.lock();
    try {
      return signals;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Waits up to {@code nanos} for a signal after the {@code seen}-th; returns false if the service
   * closed, true otherwise (signalled or timed out: either way, look again).
   *
   * @throws BatchException if the thread is interrupted (its flag is set again)
   */
  private boolean awaitWork(long seen, long nanos) {
    lock.lock();
    try {
      long left = nanos;
      while (!closed && signals == seen && left > 0) {
        left = workSignalled.awaitNanos(left);
      }
      return !closed;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BatchException("interrupted while waiting for jobs to lease", e);
    } finally {
      lock.unlock();
    }
  }
}
