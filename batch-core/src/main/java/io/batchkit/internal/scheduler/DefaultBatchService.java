package io.batchkit.internal.scheduler;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.failsafe.RateLimiter;
import io.batchkit.Batch;
import io.batchkit.BatchException;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchQuery;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatistics;
import io.batchkit.BatchStatus;
import io.batchkit.BatchValidationException;
import io.batchkit.BatchValidationException.Violation;
import io.batchkit.CancellationSummary;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobProcessor;
import io.batchkit.JobQuery;
import io.batchkit.Page;
import io.batchkit.Progress;
import io.batchkit.internal.memory.InMemoryJobStore;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.DaemonThreadFactory;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompleteAndClaimResult;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.InsertResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobProcessorProvider;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import io.batchkit.spi.Subscription;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link BatchService} implementation: a dispatcher thread over a pool of worker threads.
 *
 * <h2>Ownership</h2>
 *
 * <ul>
 *   <li>The <b>store</b> owns all job and batch state; this class keeps no copy that could disagree
 *       with it, except the immutable settings of batches in {@link #settings} (a Caffeine cache
 *       invalidated on delete).
 *   <li>The <b>dispatcher thread</b> owns the fields marked "dispatcher-owned": outcomes it has not
 *       sent yet, the rate-limit permits it has banked, its timers, and the earliest retry time. It
 *       claims for free slots and ahead ({@code claimAhead}), renews leases, takes back expired
 *       ones, enforces timeouts and records the outcomes queued in {@link #outcomes}.
 *   <li>A <b>worker thread</b> owns one slot while it runs. When its job ends it takes its next
 *       job, keeping the slot: first one claimed ahead from {@link #ready}; else, on the in-memory
 *       store only, one it claims itself (see {@link #workerClaimTypes}), after recording the
 *       outcome itself. Otherwise it queues the outcome in {@link #outcomes}, a lock-free queue,
 *       gives the slot back and wakes the dispatcher. It also gives the slot back when the
 *       dispatcher asks for one ({@link #slotWanted}) for a rate-limited type.
 *   <li>{@link #running} (job id to {@link RunningJob}) and {@link #runningCount} are shared.
 *       Whoever claims a job adds it to {@code running}; whoever ends it removes it (by id and
 *       instance): the worker that ran it, the dispatcher or {@code close()} giving up on it, or,
 *       for a job claimed ahead and never started, the caller of {@code cancelBatch}, the
 *       dispatcher or {@code close()}. {@code runningCount} is the number of slots taken and never
 *       exceeds {@code maxConcurrency}: only the dispatcher increments it, up to the free slots it
 *       computed; a worker that takes its next job keeps the slot it had; jobs claimed ahead hold
 *       no slot until started.
 * </ul>
 *
 * <h2>The dispatch round</h2>
 *
 * Each round the dispatcher (1) sends every queued outcome to the store in one {@code complete}
 * call, (2) renews leases every third of the lease duration and takes back expired leases every
 * half lease (at most every max poll interval), (3) claims up to the free slots plus what {@code
 * claimAhead} allows in one {@code claim} call and starts jobs in the free slots, (4) interrupts
 * jobs past their timeout and gives up on those that did not return for the grace period (this step
 * needs no store, so it runs during an outage too), then (5) sleeps until a worker gives a slot
 * back, queues an outcome it wants recorded soon or takes the last jobs claimed ahead down to half,
 * a caller or the store (through {@code JobStore.subscribe}) announces work, a retry or a timeout
 * falls due, or the next timer is due. The outcome of a short job followed by a job claimed ahead
 * waits for the next round, so outcomes are recorded in groups. A worker that starts a job due to
 * time out before the dispatcher's planned wake-up wakes it. A round that found nothing doubles the
 * next sleep, from the poll interval up to the max poll interval, so an idle service leaves the
 * store alone. Priority order, ageing and the per-batch limit are applied by the store in {@code
 * claim}, so they hold across every node that shares it, whichever thread claims. Rate limits are
 * per service: before a claim, the dispatcher takes permits from each type's Failsafe limiter (up
 * to the free slots) and passes them as that type's claim limit; rate-limited types are never
 * claimed ahead or by workers.
 *
 * <h2>Failures</h2>
 *
 * A store that fails is logged at WARN once per outage; the dispatcher backs off (doubling from 100
 * ms up to the max poll interval) and keeps unsent outcomes until the store takes them, so no
 * outcome is lost. Leases run out on their own if the outage outlasts them; the store then requeues
 * those jobs, and their late outcomes are rejected by the fencing token.
 */
public final class DefaultBatchService implements BatchService {
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);
  private static final int MAX_ERROR_LENGTH = 2_000;
  private static final int MAX_OUTCOMES_PER_CALL = 1_000;
  private static final int MAX_EXPIRED_PER_CALL = 500;
  private static final Duration INTERRUPT_GRACE = Duration.ofSeconds(1);

  /**
   * A job shorter than this, followed on its worker by a job claimed ahead, leaves its outcome for
   * the dispatcher's next round instead of waking it: short jobs are recorded in groups.
   */
  private static final long GROUPED_OUTCOME_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  private enum State {
    RUNNING,
    CLOSING,
    CLOSED
  }

  private final ServiceConfig config;
  private final JobStore store;
  private final Listeners listeners;
  private final Backoff backoff;
  private final Stats stats;
  private final BatchRequestValidator validator;
  private final Cache<BatchId, Batch> settings;
  private final Map<String, RateLimiter<Object>> rateLimiters = new HashMap<>();
  private final Map<JobId, RunningJob> running = new ConcurrentHashMap<>();
  private final AtomicInteger runningCount = new AtomicInteger();
  private final ConcurrentLinkedQueue<JobOutcome> outcomes = new ConcurrentLinkedQueue<>();

  /**
   * Jobs claimed ahead ({@code claimAhead}), not started, in claim order; each is in {@link
   * #running} too, so its lease is renewed, but holds no slot. The dispatcher adds, and takes jobs
   * for free slots; a worker taking its next job, a cancellation, a lost lease or shutdown removes
   * (whoever removes a job owns it).
   */
  private final ConcurrentLinkedQueue<RunningJob> ready = new ConcurrentLinkedQueue<>();

  /** The size of {@link #ready} (its own {@code size()} walks the queue), kept beside it. */
  private final AtomicInteger readyCount = new AtomicInteger();

  /**
   * Set by the dispatcher when a rate-limited type has a permit but no slot is free (workers keep
   * their slots while they find work); the next worker to finish clears it and gives its slot back.
   */
  private final AtomicBoolean slotWanted = new AtomicBoolean();

  private final CompletionWaiters waiters;
  private final Waiter waiter = new Waiter();
  private final ThreadPoolExecutor workers;
  private final Thread dispatcher;
  private final AtomicReference<State> state = new AtomicReference<>(State.RUNNING);
  private volatile boolean stopDispatcher;
  private final Subscription subscription;

  /**
   * The job types a worker may claim for itself when it finishes a job, each with a limit of 1:
   * every type without a rate limit (rate-limited types are claimed by the dispatcher, which owns
   * their permits). Empty, so that workers never call the store, unless the store is the in-memory
   * one: its calls cost a lock, while on a database a call per job per worker costs a transaction
   * each, all queueing on the batch row (measured on PostgreSQL: four times slower than the
   * dispatcher's grouped calls).
   */
  private final Map<String, Integer> workerClaimTypes;

  /**
   * Written by the dispatcher only: whether it is asleep, and until when (System.nanoTime). A
   * worker that starts a job due to time out before then wakes it. {@code sleepUntilNanos} is
   * written before {@code dispatcherAsleep} is set.
   */
  private volatile boolean dispatcherAsleep;

  private volatile long sleepUntilNanos;

  /** Written by the dispatcher only: whether the store is failing (workers then leave it alone). */
  private volatile boolean inOutage;

  // dispatcher-owned
  private final List<JobOutcome> unsent = new ArrayList<>();
  private final Map<String, Integer> bankedPermits = new HashMap<>();
  private long lastHeartbeatNanos;
  private long lastSweepNanos;
  private long lastAwaitPollNanos;
  private long rateLimitWaitNanos;
  private long outageBackoffNanos;

  /**
   * Rate-limited types a claim found no due job of, with when: no slot is asked for them for a poll
   * interval after that, so that an idle rate-limited type does not take slots from busy ones.
   */
  private final Map<String, Long> noJobsOfTypeSince = new HashMap<>();

  private final long idleCheckNanos;

  /**
   * The earliest retry time among the outcomes this node sent, so the retry is not late by a poll.
   */
  private Instant nextRetryAt;

  /** Starts a service; use {@link BatchService#builder()}. */
  public DefaultBatchService(ServiceConfig config) {
    this.config = config;
    this.store = config.store();
    this.listeners = new Listeners(config.listeners());
    this.backoff =
        new Backoff(config.retryInitialDelay(), config.retryMaxDelay(), config.retryJitter());
    this.stats = new Stats(config.clock().instant().getEpochSecond());
    this.validator = new BatchRequestValidator(config);
    this.waiters = new CompletionWaiters(store, listeners);
    this.settings = Caffeine.newBuilder().maximumSize(10_000).build();
    config
        .rateLimits()
        .forEach(
            (type, limit) ->
                rateLimiters.put(
                    type, RateLimiter.smoothBuilder(limit.permits(), limit.per()).build()));
    Map<String, Integer> selfClaim = new HashMap<>();
    if (store instanceof InMemoryJobStore) {
      config.processors().keySet().stream()
          .filter(type -> !rateLimiters.containsKey(type))
          .forEach(type -> selfClaim.put(type, 1));
    }
    this.workerClaimTypes = Map.copyOf(selfClaim);
    this.idleCheckNanos = config.pollInterval().toNanos();
    this.workers =
        new ThreadPoolExecutor(
            0,
            Integer.MAX_VALUE,
            60,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            new DaemonThreadFactory("batchkit-worker-" + config.nodeId()));
    this.dispatcher =
        new DaemonThreadFactory("batchkit-dispatcher-" + config.nodeId())
            .newThread(this::dispatchLoop);
    dispatcher.start();
    this.subscription = store.subscribe(waiter::wake);
    LOG.info(
        "batchkit service {} started: maxConcurrency={}, store={}, job types={}",
        config.nodeId(),
        config.maxConcurrency(),
        store.getClass().getSimpleName(),
        config.processors().keySet());
  }

  /**
   * Adds the processors of every {@link JobProcessorProvider} on the class path to {@code
   * processors}, refusing a job type that is already there.
   */
  public static void discoverProcessors(Map<String, JobProcessor> processors) {
    Map<String, String> sources = new HashMap<>();
    processors
        .keySet()
        .forEach(type -> sources.put(type, "Builder.processor(\"" + type + "\", ...)"));
    for (JobProcessorProvider provider : ServiceLoader.load(JobProcessorProvider.class)) {
      String source = provider.getClass().getName();
      String type =
          Checks.notBlank(
              provider.jobType(), source + ".jobType()", BatchRequest.MAX_JOB_TYPE_LENGTH);
      if (sources.containsKey(type)) {
        throw new IllegalArgumentException(
            "job type '" + type + "' has two processors: " + sources.get(type) + " and " + source);
      }
      processors.put(type, Checks.notNull(provider.processor(), source + ".processor()"));
      sources.put(type, source);
      LOG.info("found JobProcessorProvider {} for job type '{}'", source, type);
    }
  }

  // ---------------------------------------------------------------- public API

  @Override
  public Batch createBatch(BatchRequest request) {
    return create(request, false).batch();
  }

  @Override
  public Batch submit(BatchRequest request) {
    InsertResult result = create(request, true);
    if (!result.created() && result.batch().status() == BatchStatus.PENDING) {
      return startBatch(result.batch().id());
    }
    return result.batch();
  }

  private InsertResult create(BatchRequest request, boolean forceStart) {
    ensureOpen();
    Checks.notNull(request, "request");
    List<Violation> violations = validator.validate(request);
    if (!violations.isEmpty()) {
      throw new BatchValidationException(violations);
    }
    Instant now = config.clock().instant();
    boolean start = forceStart || request.autoStart();
    Batch batch =
        new Batch(
            BatchId.random(),
            request.name(),
            request.jobType(),
            request.priority(),
            request.metadata(),
            request.maxConcurrency().orElse(config.defaultBatchConcurrency()),
            request.maxAttempts().orElse(config.defaultMaxAttempts()),
            request.jobTimeout().orElse(config.defaultJobTimeout()),
            request.failurePolicy(),
            request.idempotencyKey(),
            start ? BatchStatus.PROCESSING : BatchStatus.PENDING,
            Progress.allQueued(request.items().size()),
            now,
            start ? Optional.of(now) : Optional.empty(),
            now,
            Optional.empty(),
            Optional.empty());
    List<NewJob> jobs = new ArrayList<>(request.items().size());
    for (String payload : request.items()) {
      jobs.add(new NewJob(JobId.random(), payload));
    }
    InsertResult result = store.insertBatch(batch, jobs);
    if (result.created()) {
      Batch stored = result.batch();
      LOG.debug(
          "created batch {} with {} jobs of type {}", stored.id(), jobs.size(), stored.jobType());
      listeners.fire("batchCreated", stored.id(), l -> l.batchCreated(stored));
      if (start) {
        listeners.fire("batchStarted", stored.id(), l -> l.batchStarted(stored));
        waiter.wake();
      }
    }
    return result;
  }

  @Override
  public Batch startBatch(BatchId id) {
    ensureOpen();
    Batch started = store.startBatch(Checks.notNull(id, "id"), config.clock().instant());
    listeners.fire("batchStarted", id, l -> l.batchStarted(started));
    waiter.wake();
    return started;
  }

  @Override
  public Batch getBatch(BatchId id) {
    ensureOpen();
    Batch batch =
        store.findBatch(Checks.notNull(id, "id")).orElseThrow(() -> new BatchNotFoundException(id));
    return batch.withEstimatedTimeRemaining(estimate(batch, config.clock().instant()));
  }

  /** Returns the time left at the rate the batch has finished jobs since it started. */
  static Optional<Duration> estimate(Batch batch, Instant now) {
    if (batch.status() != BatchStatus.PROCESSING || batch.startedAt().isEmpty()) {
      return Optional.empty();
    }
    Progress progress = batch.progress();
    long elapsedMillis = Duration.between(batch.startedAt().get(), now).toMillis();
    if (progress.finished() == 0 || elapsedMillis <= 0) {
      return Optional.empty();
    }
    double millisPerJob = (double) elapsedMillis / progress.finished();
    return Optional.of(Duration.ofMillis(Math.round(millisPerJob * progress.pending())));
  }

  @Override
  public Page<Job> getJobs(BatchId id, JobQuery query) {
    ensureOpen();
    return store.listJobs(Checks.notNull(id, "id"), Checks.notNull(query, "query"));
  }

  @Override
  public CancellationSummary cancelBatch(BatchId id) {
    ensureOpen();
    CancellationSummary summary =
        store.cancelBatch(Checks.notNull(id, "id"), config.clock().instant());
    stopJobsOf(id);
    LOG.info(
        "cancelled batch {}: {} queued jobs cancelled, {} running told to stop, {} already finished",
        id,
        summary.cancelledQueued(),
        summary.stoppingRunning(),
        summary.alreadyFinished());
    if (summary.stoppingRunning() == 0) {
      // nothing is left to end, so this call finished the batch
      store.findBatch(id).ifPresent(waiters::finished);
    }
    waiter.wake();
    return summary;
  }

  @Override
  public Batch retryFailed(BatchId id) {
    ensureOpen();
    Batch batch = store.retryFailed(Checks.notNull(id, "id"), config.clock().instant());
    waiter.wake();
    return batch;
  }

  @Override
  public Page<Batch> listBatches(BatchQuery query) {
    ensureOpen();
    return store.listBatches(Checks.notNull(query, "query"));
  }

  @Override
  public void deleteBatch(BatchId id) {
    ensureOpen();
    store.deleteBatch(Checks.notNull(id, "id"));
    settings.invalidate(id);
    waiters.deleted(id);
  }

  @Override
  public CompletableFuture<Batch> completion(BatchId id) {
    return waiters.completion(id, getBatch(id));
  }

  @Override
  public Batch awaitCompletion(BatchId id, Duration timeout) {
    Checks.notNegative(timeout, "timeout");
    CompletableFuture<Batch> future = completion(id);
    try {
      return future.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      return getBatch(id);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new BatchException("interrupted while waiting for batch " + id, e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof RuntimeException runtime) {
        throw runtime;
      }
      throw new BatchException("waiting for batch " + id + " failed", e.getCause());
    }
  }

  @Override
  public BatchStatistics statistics() {
    ensureOpen();
    long nowSecond = config.clock().instant().getEpochSecond();
    Duration[] p = stats.percentiles();
    return new BatchStatistics(
        stats.succeeded(),
        stats.failed(),
        stats.throughput(nowSecond),
        p[0],
        p[1],
        p[2],
        Math.max(0, running.size() - readyCount.get()),
        store.countQueuedJobs());
  }

  @Override
  public String nodeId() {
    return config.nodeId();
  }

  private void ensureOpen() {
    if (state.get() != State.RUNNING) {
      throw new IllegalStateException("batchkit service " + config.nodeId() + " is closed");
    }
  }

  // ---------------------------------------------------------------- dispatcher

  private void dispatchLoop() {
    long pollNanos = config.pollInterval().toNanos();
    long maxPollNanos = config.maxPollInterval().toNanos();
    long heartbeatNanos =
        Math.max(config.leaseDuration().toNanos() / 3, TimeUnit.MILLISECONDS.toNanos(10));
    long sweepNanos =
        Math.max(pollNanos, Math.min(config.leaseDuration().toNanos() / 2, maxPollNanos));
    long idleNanos = pollNanos;
    lastHeartbeatNanos = lastSweepNanos = lastAwaitPollNanos = System.nanoTime();
    while (!stopDispatcher) {
      long waitNanos;
      try {
        // outcomes first (with the claim when there is one), so that no lease this node still
        // holds an outcome for is taken back by the sweep below
        boolean hadOutcomes = !unsent.isEmpty() || !outcomes.isEmpty();
        rateLimitWaitNanos = Long.MAX_VALUE;
        int claimed = state.get() == State.RUNNING ? claimAndLaunch() : 0;
        flushOutcomes();
        long now = System.nanoTime();
        if (now - lastHeartbeatNanos >= heartbeatNanos) {
          lastHeartbeatNanos = now;
          heartbeat();
        }
        if (now - lastSweepNanos >= sweepNanos) {
          lastSweepNanos = now;
          recoverExpiredLeases();
        }
        if (!waiters.isEmpty() && now - lastAwaitPollNanos >= pollNanos) {
          lastAwaitPollNanos = now;
          waiters.pollAwaited();
        }
        if (hadOutcomes || claimed > 0) {
          idleNanos = pollNanos;
          waitNanos = pollNanos;
        } else {
          // nothing happened: look at the store less and less often, until something wakes us
          waitNanos = idleNanos;
          idleNanos = Math.min(maxPollNanos, idleNanos * 2);
        }
        waitNanos = Math.min(waitNanos, rateLimitWaitNanos);
        waitNanos = Math.min(waitNanos, untilNextRetry());
        waitNanos = Math.min(waitNanos, heartbeatNanos - (System.nanoTime() - lastHeartbeatNanos));
        if (!waiters.isEmpty()) {
          waitNanos = Math.min(waitNanos, pollNanos);
        }
        if (inOutage) {
          inOutage = false;
          outageBackoffNanos = 0;
          LOG.warn("job store is reachable again; service {} carries on", config.nodeId());
        }
      } catch (RuntimeException e) {
        waitNanos = onStoreFailure(e, maxPollNanos);
      } catch (Error e) {
        // e.g. an OutOfMemoryError: the dispatcher must outlive it, or the service stops silently
        LOG.error("dispatcher of service {} caught an error; it carries on", config.nodeId(), e);
        waitNanos = pollNanos;
      }
      // timeouts hold while the store is down too: this needs no store
      waitNanos = Math.min(waitNanos, watchRunningJobs());
      if (outcomes.isEmpty() && !stopDispatcher) {
        sleepUntilNanos = System.nanoTime() + Math.max(waitNanos, 0);
        dispatcherAsleep = true;
        boolean woken = waiter.await(Math.max(waitNanos, 0));
        dispatcherAsleep = false;
        if (woken) {
          idleNanos = pollNanos;
        }
      }
    }
    releaseClaimedAhead(); // those a round claimed while close() began
    try {
      flushOutcomes();
    } catch (RuntimeException e) {
      LOG.warn(
          "could not record {} job outcomes while closing; their leases will expire and the jobs"
              + " will run again",
          unsent.size(),
          e);
    }
  }

  private long onStoreFailure(RuntimeException e, long maxNanos) {
    long min = TimeUnit.MILLISECONDS.toNanos(100);
    outageBackoffNanos = Math.min(Math.max(min, maxNanos), Math.max(min, outageBackoffNanos * 2));
    if (!inOutage) {
      inOutage = true;
      LOG.warn(
          "job store failed on service {} ({}); backing off and retrying",
          config.nodeId(),
          e.toString());
      LOG.debug("job store failure", e);
    } else {
      LOG.debug("job store still failing: {}", e.toString());
    }
    return outageBackoffNanos;
  }

  /** Sends every queued outcome to the store; keeps them in {@link #unsent} if the store fails. */
  private int flushOutcomes() {
    int sent = 0;
    while (drainOutcomes()) {
      sent += unsent.size();
      recorded(store.complete(List.copyOf(unsent), config.clock().instant()));
    }
    return sent;
  }

  /**
   * Moves queued outcomes to {@link #unsent}, up to one call's worth; returns whether any are there
   * to send.
   */
  private boolean drainOutcomes() {
    JobOutcome next;
    while (unsent.size() < MAX_OUTCOMES_PER_CALL && (next = outcomes.poll()) != null) {
      unsent.add(next);
    }
    return !unsent.isEmpty();
  }

  /** Acts on what the store did with the outcomes in {@link #unsent}, which it has now. */
  private void recorded(CompletionResult result) {
    for (JobOutcome outcome : unsent) {
      outcome.retryAt().ifPresent(this::noteRetry);
    }
    unsent.clear();
    if (!result.rejected().isEmpty()) {
      LOG.debug(
          "store rejected the outcomes of {} jobs whose lease was lost", result.rejected().size());
    }
    afterChange(result.batches());
  }

  /**
   * Enforces job timeouts: interrupts the jobs whose attempt ran past their timeout, and gives back
   * the slots of jobs whose processor ignored its interrupt past the grace period (the job ends as
   * its stop reason says: timed out, failed or retried; cancelled, cancelled), abandoning their
   * thread. Returns the nanoseconds until the next such deadline.
   */
  private long watchRunningJobs() {
    long grace = config.interruptGracePeriod().toNanos();
    long now = System.nanoTime();
    long next = Long.MAX_VALUE;
    for (RunningJob job : running.values()) {
      if (!job.isStarted() || job.isReported()) {
        continue; // claimed ahead (nothing runs yet), or ended (its listeners are being told)
      }
      if (!job.isCancelled()) {
        long untilTimeout = job.deadlineNanos() - now;
        if (untilTimeout > 0) {
          next = Math.min(next, untilTimeout);
          continue;
        }
        LOG.debug("{} timed out after {}; interrupting it", job, job.batch.jobTimeout());
        job.stop(RunningJob.Stop.TIMED_OUT);
      }
      long at = job.abandonAtNanos(grace);
      if (at - now > 0) {
        next = Math.min(next, at - now);
        continue;
      }
      giveUp(job);
    }
    return next;
  }

  private void noteRetry(Instant at) {
    if (nextRetryAt == null || at.isBefore(nextRetryAt)) {
      nextRetryAt = at;
    }
  }

  /** Returns the nanoseconds until the earliest known retry is due, forgetting it once it is. */
  private long untilNextRetry() {
    if (nextRetryAt == null) {
      return Long.MAX_VALUE;
    }
    long nanos = Duration.between(config.clock().instant(), nextRetryAt).toNanos();
    if (nanos <= 0) {
      nextRetryAt = null; // the claim that just ran could take it
      return Long.MAX_VALUE;
    }
    return nanos;
  }

  /**
   * Reacts to batches whose jobs changed: finished ones are announced, aborted ones stopped here.
   */
  private void afterChange(List<Batch> batches) {
    for (Batch batch : batches) {
      if (batch.isFinished()) {
        waiters.finished(batch);
      } else if (batch.status().isFinal()) {
        stopJobsOf(batch.id());
      }
    }
  }

  /** Tells this node's jobs of a cancelled or aborted batch to stop. */
  private void stopJobsOf(BatchId id) {
    for (RunningJob job : running.values()) {
      if (job.claim.batchId().equals(id)) {
        stop(job, RunningJob.Stop.CANCELLED);
      }
    }
  }

  /**
   * Tells a job to stop; a job claimed ahead and not started ends here at once (cancelled, or
   * dropped if its lease was lost), without a slot.
   */
  private void stop(RunningJob job, RunningJob.Stop reason) {
    job.stop(reason);
    if (!job.isStarted() && removeReady(job)) {
      endUnstarted(job, new InterruptedException("stopped before it started"));
    }
  }

  /** Ends a job this thread took out of {@link #ready}: it never ran, and holds no slot. */
  private void endUnstarted(RunningJob job, Throwable reason) {
    if (!job.claimReport()) {
      return;
    }
    JobOutcome outcome = JobOutcome.released(job.claim);
    try {
      if (job.stopReason() != RunningJob.Stop.SHUTDOWN && job.stopReason() != null) {
        outcome = conclude(job, new Attempt(null, reason), 0);
      }
    } finally {
      if (outcome != null) {
        outcomes.add(outcome);
      }
      running.remove(job.claim.id(), job);
      waiter.wake();
    }
  }

  /** Gives every job claimed ahead back to the store; for shutdown. */
  private void releaseClaimedAhead() {
    RunningJob job;
    while ((job = pollReady()) != null) {
      job.stop(RunningJob.Stop.SHUTDOWN);
      endUnstarted(job, new InterruptedException("the service is closing"));
    }
  }

  private void heartbeat() {
    if (running.isEmpty()) {
      return;
    }
    Map<JobId, Long> leases = new HashMap<>();
    running.values().forEach(job -> leases.put(job.claim.id(), job.claim.fencingToken()));
    Instant now = config.clock().instant();
    HeartbeatResult result =
        store.heartbeat(config.nodeId(), leases, now.plus(config.leaseDuration()));
    for (JobId id : result.lost()) {
      RunningJob job = running.get(id);
      if (job != null) {
        LOG.warn("{} lost its lease (another node may run it now); stopping it here", job);
        stop(job, RunningJob.Stop.LOST);
      }
    }
    for (JobId id : result.cancelRequested()) {
      RunningJob job = running.get(id);
      if (job != null) {
        stop(job, RunningJob.Stop.CANCELLED);
      }
    }
  }

  private void recoverExpiredLeases() {
    CompletionResult result = store.requeueExpired(config.clock().instant(), MAX_EXPIRED_PER_CALL);
    afterChange(result.batches());
  }

  /**
   * Claims up to the free slots plus what {@code claimAhead} allows, and starts jobs in the free
   * slots; returns how many it claimed. Sets {@link #rateLimitWaitNanos} when a rate-limited type
   * had no permit, so that the dispatcher looks again when the next one is due.
   *
   * <p>Rate limits: before the claim, permits are taken from each type's limiter up to the free
   * slots (at least one) and passed as the type's claim limit (at most the free slots: a
   * rate-limited job is never claimed ahead). Of the permits a claim leaves unused, at most one is
   * kept for the next round, so a service that was idle cannot start a burst. When a type has a
   * permit but no slot is free, because workers keep their slots for the next job, {@link
   * #slotWanted} asks the next worker that finishes to give its slot back.
   */
  private int claimAndLaunch() {
    int free = config.maxConcurrency() - runningCount.get();
    int ahead = Math.max(0, config.claimAhead() - readyCount.get());
    if (config.processors().isEmpty()) {
      return 0;
    }
    long nowNanos = System.nanoTime();
    Map<String, Integer> types = new HashMap<>();
    for (String type : config.processors().keySet()) {
      RateLimiter<Object> limiter = rateLimiters.get(type);
      if (limiter == null) {
        types.put(type, free + ahead);
        continue;
      }
      int banked = bankedPermits.getOrDefault(type, 0);
      while (banked < Math.max(free, 1) && limiter.tryAcquirePermit()) {
        banked++;
      }
      bankedPermits.put(type, banked);
      types.put(type, Math.min(banked, Math.max(free, 0)));
      if (banked == 0) {
        RateLimit limit = config.rateLimits().get(type);
        rateLimitWaitNanos =
            Math.min(rateLimitWaitNanos, Math.max(1, limit.per().toNanos() / limit.permits()));
      } else if (free <= 0
          && nowNanos - noJobsOfTypeSince.getOrDefault(type, nowNanos - idleCheckNanos)
              >= idleCheckNanos) {
        slotWanted.set(true);
      }
    }
    if (free + ahead <= 0) {
      return 0;
    }
    // the queued outcomes go with the claim: the slots they free in a batch can be claimed at once,
    // and a durable store does both in one transaction
    drainOutcomes();
    Instant now = config.clock().instant();
    CompleteAndClaimResult round =
        store.completeAndClaim(
            List.copyOf(unsent),
            now,
            new ClaimRequest(
                config.nodeId(),
                Math.max(free, 0) + ahead,
                now,
                now.plus(config.leaseDuration()),
                config.priorityAging(),
                types));
    recorded(round.completion());
    List<ClaimedJob> claimed = round.claimed();
    Map<String, Integer> claimedPerType = new HashMap<>();
    ArrayDeque<ClaimedJob> pending = new ArrayDeque<>(claimed);
    try {
      ClaimedJob claim;
      while ((claim = pending.peek()) != null) {
        RunningJob job = track(claim);
        pending.poll();
        if (job == null) {
          continue;
        }
        String type = job.batch.jobType();
        claimedPerType.merge(type, 1, Integer::sum);
        if (rateLimiters.containsKey(type)) {
          // its permit is spent: it starts now, whatever its place in the claim
          bankedPermits.computeIfPresent(type, (t, banked) -> Math.max(0, banked - 1));
          launch(job);
          free--;
        } else {
          addReady(job);
        }
      }
    } finally {
      // a failure half-way (the batch settings could not be read) gives back what was not tracked
      pending.forEach(c -> outcomes.add(JobOutcome.released(c)));
    }
    RunningJob waiting;
    while (free > 0 && (waiting = pollReady()) != null) {
      launch(waiting); // in claim order: jobs claimed ahead earlier go first
      free--;
    }
    for (Map.Entry<String, Integer> offered : types.entrySet()) {
      if (rateLimiters.containsKey(offered.getKey())) {
        if (offered.getValue() > 0 && !claimedPerType.containsKey(offered.getKey())) {
          noJobsOfTypeSince.put(offered.getKey(), nowNanos); // none due: stop asking for a slot
        } else if (claimedPerType.containsKey(offered.getKey())) {
          noJobsOfTypeSince.remove(offered.getKey());
        }
      }
    }
    bankedPermits.replaceAll((type, banked) -> Math.min(banked, 1));
    return claimed.size();
  }

  /** Queues a job claimed ahead; a cancellation that came as it was queued ends it at once. */
  private void addReady(RunningJob job) {
    ready.add(job);
    readyCount.incrementAndGet();
    if (job.isCancelled() && removeReady(job)) {
      endUnstarted(job, new InterruptedException("stopped before it started"));
    }
  }

  private RunningJob pollReady() {
    RunningJob job = ready.poll();
    if (job != null) {
      readyCount.decrementAndGet();
    }
    return job;
  }

  private boolean removeReady(RunningJob job) {
    if (ready.remove(job)) {
      readyCount.decrementAndGet();
      return true;
    }
    return false;
  }

  /** Gives a tracked job a slot and a worker. */
  private void launch(RunningJob job) {
    job.markStarted();
    runningCount.incrementAndGet();
    try {
      workers.execute(() -> work(job));
    } catch (RejectedExecutionException | OutOfMemoryError e) {
      // a closing pool, or no thread to be had: the job goes back to the queue
      running.remove(job.claim.id(), job);
      runningCount.decrementAndGet();
      outcomes.add(JobOutcome.released(job.claim));
      if (e instanceof OutOfMemoryError) {
        LOG.error("could not start a worker thread for {}; gave the job back", job, e);
      }
    }
  }

  /**
   * Makes a claimed job a {@link RunningJob} in {@link #running}; returns null (and gives the job
   * back) if its batch no longer exists. Does not touch {@link #runningCount}: the caller owns the
   * slot.
   */
  private RunningJob track(ClaimedJob claim) {
    Batch batch = settings.get(claim.batchId(), id -> store.findBatch(id).orElse(null));
    if (batch == null) {
      LOG.warn(
          "claimed job {} of batch {}, which no longer exists; giving it back",
          claim.id(),
          claim.batchId());
      outcomes.add(JobOutcome.released(claim));
      return null;
    }
    RunningJob job = new RunningJob(claim, batch, listeners);
    running.put(claim.id(), job);
    return job;
  }

  // ---------------------------------------------------------------- workers

  /**
   * A worker's life: runs its job, then, while the service runs and the store is healthy, records
   * the outcome and claims its next job itself, keeping its slot, so that a busy service hands no
   * job from thread to thread and does not wake the dispatcher per job. It gives the slot back when
   * the store has nothing due for it.
   */
  private void work(RunningJob first) {
    RunningJob job = first;
    while (job != null) {
      long started = System.nanoTime();
      Attempt attempt = attempt(job);
      if (!job.claimReport()) {
        return; // the dispatcher gave up on this job and its slot; this thread was abandoned
      }
      JobOutcome outcome;
      try {
        outcome = conclude(job, attempt, System.nanoTime() - started);
      } catch (RuntimeException | Error e) {
        // the last guard: the slot and the job must be handed on whatever happened
        LOG.error("could not conclude {}; giving the job back to the store", job, e);
        outcome = JobOutcome.released(job.claim);
      }
      running.remove(job.claim.id(), job);
      try {
        job = next(outcome, job.nanosSinceStart());
      } catch (RuntimeException | Error e) {
        // e.g. an Error from the store: hand the outcome to the dispatcher (sending it twice is
        // harmless, its token is spent once stored) and the slot back, or the service shrinks
        LOG.error("a worker failed while taking its next job; it gives its slot back", e);
        if (outcome != null) {
          outcomes.add(outcome);
        }
        runningCount.decrementAndGet();
        waiter.wake();
        return;
      }
    }
  }

  /** What one attempt of a processor came to: a result or a failure. */
  private record Attempt(String result, Throwable failure) {}

  private Attempt attempt(RunningJob job) {
    JobProcessor processor = config.processors().get(job.batch.jobType());
    String result = null;
    Throwable failure = null;
    job.attach(Thread.currentThread());
    try {
      if (job.isCancelled()) {
        failure = new InterruptedException("stopped before it started");
      } else {
        listeners.fire("jobStarted", job.claim.id(), l -> l.jobStarted(job));
        if (job.isCancelled()) {
          // stopped while a listener held the thread: the attempt has ended, so do not begin it
          throw new InterruptedException("stopped before the processor was called");
        }
        result = processor.process(job);
        long bytes =
            result == null ? 0 : BatchRequestValidator.utf8Length(result, config.maxPayloadBytes());
        String unstorable = result == null ? null : Checks.unstorable(result);
        if (unstorable != null) {
          failure =
              new IllegalStateException(
                  "result must not contain " + unstorable + "; it was not stored");
          result = null;
        } else if (bytes > config.maxPayloadBytes()) {
          failure =
              new IllegalStateException(
                  "result of "
                      + bytes
                      + " bytes is over the limit of "
                      + config.maxPayloadBytes()
                      + " bytes (maxPayloadBytes); it was not stored");
          result = null;
        }
      }
    } catch (Throwable e) {
      failure = e;
    } finally {
      job.detach();
    }
    if (job.stopReason() == RunningJob.Stop.TIMED_OUT) {
      // whatever the processor did once its time was up, the attempt timed out
      return new Attempt(null, timedOut(job));
    }
    return new Attempt(result, failure);
  }

  private static TimeoutException timedOut(RunningJob job) {
    return new TimeoutException("attempt timed out after " + job.batch.jobTimeout());
  }

  /**
   * Hands {@code outcome} on and finds the worker its next job, keeping its slot: first a job
   * claimed ahead; else, on the in-memory store, one the worker claims itself. On the in-memory
   * store, while the service runs and the store is healthy, the worker also records the outcome
   * itself, in the same store call as the claim (unless it is a retry, whose time the dispatcher
   * must know). Otherwise the outcome goes to the dispatcher, which records it (and retries if the
   * store fails); the outcome of a short job taken over by another claimed-ahead job waits for the
   * dispatcher's next round, so that outcomes are recorded in groups. Returns the next job, or null
   * after giving the slot back.
   */
  private RunningJob next(JobOutcome outcome, long jobNanos) {
    boolean open = state.get() == State.RUNNING;
    boolean selfServe = open && !inOutage && !workerClaimTypes.isEmpty();
    // the dispatcher has a rate-limit permit and no slot: then this slot goes back to it
    boolean giveSlot = open && slotWanted.get() && slotWanted.compareAndSet(true, false);
    boolean mayClaim = selfServe && !giveSlot;
    JobOutcome queued = outcome;
    RunningJob next = null;
    boolean claimed = false;
    if (selfServe && outcome != null && outcome.retryAt().isEmpty()) {
      // recorded before the next job starts, so that this worker never holds two leased jobs
      try {
        Instant now = config.clock().instant();
        CompletionResult completion;
        if (mayClaim && readyCount.get() == 0) {
          CompleteAndClaimResult result =
              store.completeAndClaim(List.of(outcome), now, selfClaim(now));
          completion = result.completion();
          claimed = true;
          next = result.claimed().isEmpty() ? null : track(result.claimed().get(0));
        } else {
          completion = store.complete(List.of(outcome), now);
        }
        queued = null;
        afterChange(completion.batches());
      } catch (RuntimeException e) {
        LOG.debug("a worker could not record its outcome; the dispatcher will", e);
      }
    }
    boolean wake = false;
    if (next == null && open && !giveSlot) {
      next = pollReady();
      wake = next != null && readyCount.get() <= config.claimAhead() / 2; // time to claim more
    }
    if (next == null && mayClaim && !claimed) {
      try {
        List<ClaimedJob> got = store.claim(selfClaim(config.clock().instant()));
        next = got.isEmpty() ? null : track(got.get(0));
      } catch (RuntimeException e) {
        LOG.debug("a worker could not claim its next job; the dispatcher will", e);
      }
    }
    if (queued != null) {
      outcomes.add(queued);
      wake |= next == null || jobNanos >= GROUPED_OUTCOME_NANOS || queued.retryAt().isPresent();
    }
    if (next != null) {
      next.markStarted();
      if (wake || !dispatcherAsleep || next.deadlineNanos() - sleepUntilNanos < 0) {
        waiter.wake(); // also when the dispatcher must watch this job's timeout sooner than planned
      }
      return next;
    }
    runningCount.decrementAndGet();
    waiter.wake();
    return null;
  }

  /** A worker's claim for its own slot: one job of a type without a rate limit. */
  private ClaimRequest selfClaim(Instant now) {
    return new ClaimRequest(
        config.nodeId(),
        1,
        now,
        now.plus(config.leaseDuration()),
        config.priorityAging(),
        workerClaimTypes);
  }

  /**
   * Ends the attempt of a job this thread claimed the report of: fires the listeners, counts it,
   * and returns the outcome to record (null if another node owns the job now).
   */
  private JobOutcome conclude(RunningJob job, Attempt attempt, long nanos) {
    ClaimedJob claim = job.claim;
    RunningJob.Stop stop = job.stopReason();
    Throwable failure = attempt.failure();
    if (stop == RunningJob.Stop.LOST) {
      return null; // another node owns the job now; the store would reject anything we send
    }
    if (stop == RunningJob.Stop.CANCELLED) {
      listeners.fire("jobCancelled", claim.id(), l -> l.jobCancelled(job));
      return JobOutcome.cancelled(claim);
    }
    if (failure == null) {
      stats.record(true, nanos, config.clock().instant().getEpochSecond());
      String stored = attempt.result();
      listeners.fire("jobSucceeded", claim.id(), l -> l.jobSucceeded(job, stored));
      return JobOutcome.succeeded(claim, stored);
    }
    if (stop == RunningJob.Stop.SHUTDOWN) {
      return JobOutcome.released(claim);
    }
    stats.record(false, nanos, config.clock().instant().getEpochSecond());
    String error = describe(failure);
    boolean retry = claim.attempt() < job.batch.maxAttempts();
    JobOutcome outcome;
    if (retry) {
      Duration delay =
          backoff.delayAfter(claim.attempt(), ThreadLocalRandom.current().nextDouble());
      outcome = JobOutcome.retry(claim, error, config.clock().instant().plus(delay));
    } else {
      outcome = JobOutcome.failed(claim, error);
    }
    LOG.debug("{} failed (retry: {}): {}", job, retry, error);
    listeners.fire("jobFailed", claim.id(), l -> l.jobFailed(job, failure, retry));
    return outcome;
  }

  /**
   * Ends a job on behalf of a worker that did not return within the grace period after it was told
   * to stop (its processor, or a listener, ignored the interrupt): the first report wins, so a late
   * return of the worker is ignored. Gives the slot back.
   */
  private void giveUp(RunningJob job) {
    if (!job.claimReport()) {
      return;
    }
    LOG.warn(
        "{} did not return within {} of being told to stop (its processor or a listener ignored"
            + " the interrupt); ending it and giving its slot back (its thread is abandoned)",
        job,
        config.interruptGracePeriod());
    TimeoutException failure =
        new TimeoutException(
            "attempt timed out after "
                + job.batch.jobTimeout()
                + " and did not return within "
                + config.interruptGracePeriod()
                + " of its interrupt");
    JobOutcome outcome = JobOutcome.released(job.claim);
    try {
      outcome = conclude(job, new Attempt(null, failure), job.nanosSinceStart());
    } finally {
      if (outcome != null) {
        outcomes.add(outcome);
      }
      running.remove(job.claim.id(), job);
      runningCount.decrementAndGet();
      waiter.wake();
    }
  }

  /**
   * Returns the error text stored for a failure: its class and message, cut at {@link
   * #MAX_ERROR_LENGTH} characters (never inside a surrogate pair), with any character a store
   * cannot keep replaced by U+FFFD. Never throws, even if the failure's {@code getMessage} does.
   */
  static String describe(Throwable failure) {
    String message;
    try {
      message = failure.getMessage();
    } catch (Throwable e) {
      message = "(its getMessage() threw " + e.getClass().getName() + ")";
    }
    String text =
        message == null
            ? failure.getClass().getName()
            : failure.getClass().getName() + ": " + message;
    if (text.length() > MAX_ERROR_LENGTH) {
      int end = MAX_ERROR_LENGTH;
      if (Character.isHighSurrogate(text.charAt(end - 1))) {
        end--;
      }
      text = text.substring(0, end) + "...";
    }
    return Checks.unstorable(text) == null ? text : replaceUnstorable(text);
  }

  private static String replaceUnstorable(String text) {
    StringBuilder out = new StringBuilder(text.length());
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < text.length()
          && Character.isLowSurrogate(text.charAt(i + 1))) {
        out.append(c).append(text.charAt(++i));
      } else if (c == '\u0000' || Character.isSurrogate(c)) {
        out.append('\uFFFD');
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  // ---------------------------------------------------------------- shutdown

  @Override
  public void close() {
    if (!state.compareAndSet(State.RUNNING, State.CLOSING)) {
      return;
    }
    LOG.info("closing batchkit service {}: {} jobs running", config.nodeId(), runningCount.get());
    subscription.close();
    releaseClaimedAhead();
    waiter.wake();
    workers.shutdown();
    if (!awaitWorkers(config.shutdownGracePeriod())) {
      running.values().forEach(job -> job.stop(RunningJob.Stop.SHUTDOWN));
      if (!awaitWorkers(INTERRUPT_GRACE)) {
        for (RunningJob job : running.values()) {
          if (job.isStarted() && job.claimReport()) {
            LOG.warn("{} ignored its interrupt; giving its job back to the store", job);
            outcomes.add(JobOutcome.released(job.claim));
            running.remove(job.claim.id(), job);
            runningCount.decrementAndGet();
          }
        }
      }
    }
    stopDispatcher = true;
    waiter.wake();
    try {
      dispatcher.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (dispatcher.isAlive()) {
      LOG.warn("dispatcher of service {} did not stop within 30s", config.nodeId());
    }
    waiters.closed(config.nodeId());
    state.set(State.CLOSED);
    LOG.info("batchkit service {} closed", config.nodeId());
  }

  private boolean awaitWorkers(Duration timeout) {
    try {
      return workers.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
