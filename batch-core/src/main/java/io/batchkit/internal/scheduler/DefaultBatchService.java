package io.batchkit.internal.scheduler;

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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
  private static final int MAX_OUTCOMES_PER_CALL = 1_000;
  private static final int MAX_EXPIRED_PER_CALL = 500;

  private final ServiceConfig config;
  private final JobStore store;
  private final Listeners listeners;
  private final Stats stats;
  private final BatchRequestValidator validator;
  private final Map<String, RateLimiter<Object>> rateLimiters = new HashMap<>();
  private final CompletionWaiters waiters;
  private final NodeState node = new NodeState();
  private final JobRunner runner;
  private final Thread dispatcher;
  private volatile boolean stopDispatcher;
  private final Subscription subscription;

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
    Backoff backoff =
        new Backoff(config.retryInitialDelay(), config.retryMaxDelay(), config.retryJitter());
    this.stats = new Stats(config.clock().instant().getEpochSecond());
    this.validator = new BatchRequestValidator(config);
    this.waiters = new CompletionWaiters(store, listeners);
    this.runner = new JobRunner(config, node, listeners, backoff, stats, waiters);
    config
        .rateLimits()
        .forEach(
            (type, limit) ->
                rateLimiters.put(
                    type, RateLimiter.smoothBuilder(limit.permits(), limit.per()).build()));
    this.idleCheckNanos = config.pollInterval().toNanos();
    this.dispatcher =
        new DaemonThreadFactory("batchkit-dispatcher-" + config.nodeId())
            .newThread(this::dispatchLoop);
    dispatcher.start();
    this.subscription = store.subscribe(node.waiter::wake);
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
        node.waiter.wake();
      }
    }
    return result;
  }

  @Override
  public Batch startBatch(BatchId id) {
    ensureOpen();
    Batch started = store.startBatch(Checks.notNull(id, "id"), config.clock().instant());
    listeners.fire("batchStarted", id, l -> l.batchStarted(started));
    node.waiter.wake();
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
    runner.stopJobsOf(id);
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
    node.waiter.wake();
    return summary;
  }

  @Override
  public Batch retryFailed(BatchId id) {
    ensureOpen();
    Batch batch = store.retryFailed(Checks.notNull(id, "id"), config.clock().instant());
    node.waiter.wake();
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
    runner.forget(id);
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
        Math.max(0, node.running.size() - node.readyCount()),
        store.countQueuedJobs());
  }

  @Override
  public String nodeId() {
    return config.nodeId();
  }

  private void ensureOpen() {
    if (node.state.get() != NodeState.State.RUNNING) {
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
        boolean hadOutcomes = !unsent.isEmpty() || !node.outcomes.isEmpty();
        rateLimitWaitNanos = Long.MAX_VALUE;
        int claimed = node.state.get() == NodeState.State.RUNNING ? claimAndLaunch() : 0;
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
        if (node.inOutage) {
          node.inOutage = false;
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
      if (node.outcomes.isEmpty() && !stopDispatcher) {
        node.sleepUntilNanos = System.nanoTime() + Math.max(waitNanos, 0);
        node.dispatcherAsleep = true;
        boolean woken = node.waiter.await(Math.max(waitNanos, 0));
        node.dispatcherAsleep = false;
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
    if (!node.inOutage) {
      node.inOutage = true;
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
    while (unsent.size() < MAX_OUTCOMES_PER_CALL && (next = node.outcomes.poll()) != null) {
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
    runner.afterChange(result.batches());
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
    for (RunningJob job : node.running.values()) {
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
      runner.giveUp(job);
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

  /** Gives every job claimed ahead back to the store; for shutdown. */
  private void releaseClaimedAhead() {
    RunningJob job;
    while ((job = node.pollReady()) != null) {
      job.stop(RunningJob.Stop.SHUTDOWN);
      runner.endUnstarted(job, new InterruptedException("the service is closing"));
    }
  }

  private void heartbeat() {
    if (node.running.isEmpty()) {
      return;
    }
    Map<JobId, Long> leases = new HashMap<>();
    node.running.values().forEach(job -> leases.put(job.claim.id(), job.claim.fencingToken()));
    Instant now = config.clock().instant();
    HeartbeatResult result =
        store.heartbeat(config.nodeId(), leases, now.plus(config.leaseDuration()));
    for (JobId id : result.lost()) {
      RunningJob job = node.running.get(id);
      if (job != null) {
        LOG.warn("{} lost its lease (another node may run it now); stopping it here", job);
        runner.stop(job, RunningJob.Stop.LOST);
      }
    }
    for (JobId id : result.cancelRequested()) {
      RunningJob job = node.running.get(id);
      if (job != null) {
        runner.stop(job, RunningJob.Stop.CANCELLED);
      }
    }
  }

  private void recoverExpiredLeases() {
    CompletionResult result = store.requeueExpired(config.clock().instant(), MAX_EXPIRED_PER_CALL);
    runner.afterChange(result.batches());
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
    int free = config.maxConcurrency() - node.runningCount.get();
    int ahead = Math.max(0, config.claimAhead() - node.readyCount());
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
        node.slotWanted.set(true);
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
        RunningJob job = runner.track(claim);
        pending.poll();
        if (job == null) {
          continue;
        }
        String type = job.batch.jobType();
        claimedPerType.merge(type, 1, Integer::sum);
        if (rateLimiters.containsKey(type)) {
          // its permit is spent: it starts now, whatever its place in the claim
          bankedPermits.computeIfPresent(type, (t, banked) -> Math.max(0, banked - 1));
          runner.launch(job);
          free--;
        } else {
          addReady(job);
        }
      }
    } finally {
      // a failure half-way (the batch settings could not be read) gives back what was not tracked
      pending.forEach(c -> node.outcomes.add(JobOutcome.released(c)));
    }
    RunningJob waiting;
    while (free > 0 && (waiting = node.pollReady()) != null) {
      runner.launch(waiting); // in claim order: jobs claimed ahead earlier go first
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
    node.addReady(job);
    if (job.isCancelled() && node.removeReady(job)) {
      runner.endUnstarted(job, new InterruptedException("stopped before it started"));
    }
  }

  // ---------------------------------------------------------------- shutdown

  @Override
  public void close() {
    if (!node.state.compareAndSet(NodeState.State.RUNNING, NodeState.State.CLOSING)) {
      return;
    }
    LOG.info(
        "closing batchkit service {}: {} jobs running", config.nodeId(), node.runningCount.get());
    subscription.close();
    releaseClaimedAhead();
    node.waiter.wake();
    runner.shutdown();
    stopDispatcher = true;
    node.waiter.wake();
    try {
      dispatcher.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (dispatcher.isAlive()) {
      LOG.warn("dispatcher of service {} did not stop within 30s", config.nodeId());
    }
    waiters.closed(config.nodeId());
    node.state.set(NodeState.State.CLOSED);
    LOG.info("batchkit service {} closed", config.nodeId());
  }
}
