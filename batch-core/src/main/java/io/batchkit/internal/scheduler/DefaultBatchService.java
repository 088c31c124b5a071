package io.batchkit.internal.scheduler;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import dev.failsafe.Failsafe;
import dev.failsafe.FailsafeException;
import dev.failsafe.FailsafeExecutor;
import dev.failsafe.RateLimiter;
import dev.failsafe.Timeout;
import dev.failsafe.TimeoutExceededException;
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
 *   <li>The <b>dispatcher thread</b> owns the fields marked "dispatcher-owned": unsent outcomes,
 *       the rate-limit permits it has banked, and its timers. It is the only thread that claims
 *       jobs, records outcomes, renews leases and takes back expired ones.
 *   <li><b>Worker threads</b> run one job at a time and hand each outcome to the dispatcher through
 *       {@link #outcomes}, a lock-free queue, then wake it.
 *   <li>{@link #running} (job id to {@link RunningJob}) and {@link #runningCount} are shared: the
 *       dispatcher adds, the worker that ran the job (or {@code close()}) removes. {@code
 *       runningCount} never exceeds {@code maxConcurrency}, because only the dispatcher increments
 *       it and only up to the free slots it computed.
 * </ul>
 *
 * <h2>The dispatch round</h2>
 *
 * Each round the dispatcher (1) sends every queued outcome to the store in one {@code complete}
 * call, (2) renews leases every third of the lease duration and takes back expired leases every
 * half lease (at most every max poll interval), (3) claims up to the number of free slots in one
 * {@code claim} call and hands each job to a worker, then (4) sleeps until a worker finishes, a
 * caller or the store (through {@code JobStore.subscribe}) announces work, a retry falls due, or
 * the next timer is due. A round that found nothing doubles the next sleep, from the poll interval
 * up to the max poll interval, so an idle service leaves the store alone. Priority order, ageing
 * and the per-batch limit are applied by the store in {@code claim}, so they hold across every node
 * that shares it. Rate limits are per service: before a claim, the dispatcher takes permits from
 * each type's Failsafe limiter (up to the free slots) and passes them as that type's claim limit;
 * permits not used stay banked for the next round.
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
  private final Cache<BatchId, Batch> settings;
  private final Map<Duration, FailsafeExecutor<String>> timeouts = new ConcurrentHashMap<>();
  private final Map<String, RateLimiter<Object>> rateLimiters = new HashMap<>();
  private final Map<JobId, RunningJob> running = new ConcurrentHashMap<>();
  private final AtomicInteger runningCount = new AtomicInteger();
  private final ConcurrentLinkedQueue<JobOutcome> outcomes = new ConcurrentLinkedQueue<>();
  private final Map<BatchId, CompletableFuture<Batch>> awaited = new ConcurrentHashMap<>();
  private final Waiter waiter = new Waiter();
  private final ThreadPoolExecutor workers;
  private final Thread dispatcher;
  private final AtomicReference<State> state = new AtomicReference<>(State.RUNNING);
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
  private boolean inOutage;

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
    this.settings = Caffeine.newBuilder().maximumSize(10_000).build();
    config
        .rateLimits()
        .forEach(
            (type, limit) ->
                rateLimiters.put(
                    type, RateLimiter.smoothBuilder(limit.permits(), limit.per()).build()));
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
    List<Violation> violations = validate(request);
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

  private List<Violation> validate(BatchRequest request) {
    List<Violation> violations = new ArrayList<>();
    if (!config.allowUnknownJobTypes() && !config.processors().containsKey(request.jobType())) {
      violations.add(
          new Violation(
              "jobType",
              "no processor is registered for job type '"
                  + request.jobType()
                  + "' (registered: "
                  + config.processors().keySet()
                  + ")"));
    }
    int items = request.items().size();
    if (items > config.maxItemsPerBatch()) {
      violations.add(
          new Violation(
              "items",
              "a batch may have at most " + config.maxItemsPerBatch() + " items, had " + items));
    }
    int oversized = 0;
    for (int i = 0; i < items; i++) {
      String payload = request.items().get(i);
      if (payload.indexOf('\u0000') >= 0) {
        violations.add(
            new Violation(
                "items[" + i + "]",
                "a payload must not contain the NUL character (U+0000), found at index "
                    + payload.indexOf('\u0000')));
        continue;
      }
      long bytes = utf8Length(payload, config.maxPayloadBytes());
      if (bytes > config.maxPayloadBytes()) {
        if (++oversized <= 10) {
          violations.add(
              new Violation(
                  "items[" + i + "]",
                  "a payload may be at most "
                      + config.maxPayloadBytes()
                      + " bytes in UTF-8, was "
                      + bytes));
        }
      }
    }
    if (oversized > 10) {
      violations.add(
          new Violation(
              "items",
              (oversized - 10) + " more payloads are over " + config.maxPayloadBytes() + " bytes"));
    }
    return violations;
  }

  /** Returns the UTF-8 length of {@code s}, exact when it matters (near or over {@code limit}). */
  static long utf8Length(String s, int limit) {
    if ((long) s.length() * 3 <= limit) {
      return s.length();
    }
    long bytes = 0;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c < 0x80) {
        bytes += 1;
      } else if (c < 0x800) {
        bytes += 2;
      } else if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        bytes += 4;
        i++;
      } else {
        bytes += 3;
      }
    }
    return bytes;
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
    for (RunningJob job : running.values()) {
      if (job.claim.batchId().equals(id)) {
        job.stop(RunningJob.Stop.CANCELLED);
      }
    }
    LOG.info(
        "cancelled batch {}: {} queued jobs cancelled, {} running told to stop, {} already finished",
        id,
        summary.cancelledQueued(),
        summary.stoppingRunning(),
        summary.alreadyFinished());
    if (summary.stoppingRunning() == 0) {
      // nothing is left to end, so this call finished the batch
      store.findBatch(id).ifPresent(this::finished);
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
    CompletableFuture<Batch> future = awaited.remove(id);
    if (future != null) {
      future.completeExceptionally(new BatchNotFoundException(id));
    }
  }

  @Override
  public CompletableFuture<Batch> completion(BatchId id) {
    Batch batch = getBatch(id);
    if (batch.isFinished()) {
      return CompletableFuture.completedFuture(batch);
    }
    CompletableFuture<Batch> future = awaited.computeIfAbsent(id, k -> new CompletableFuture<>());
    // the batch may have finished between the read above and the registration
    store
        .findBatch(id)
        .filter(Batch::isFinished)
        .ifPresent(
            done -> {
              if (awaited.remove(id, future)) {
                future.complete(done);
              }
            });
    return future.copy();
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
        runningCount.get(),
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
        int flushed = flushOutcomes();
        long now = System.nanoTime();
        if (now - lastHeartbeatNanos >= heartbeatNanos) {
          lastHeartbeatNanos = now;
          heartbeat();
        }
        if (now - lastSweepNanos >= sweepNanos) {
          lastSweepNanos = now;
          recoverExpiredLeases();
        }
        if (!awaited.isEmpty() && now - lastAwaitPollNanos >= pollNanos) {
          lastAwaitPollNanos = now;
          pollAwaited();
        }
        rateLimitWaitNanos = Long.MAX_VALUE;
        long untilAbandon = abandonStuckJobs();
        int claimed = state.get() == State.RUNNING ? claimAndLaunch() : 0;
        if (flushed > 0 || claimed > 0) {
          idleNanos = pollNanos;
          waitNanos = pollNanos;
        } else {
          // nothing happened: look at the store less and less often, until something wakes us
          waitNanos = idleNanos;
          idleNanos = Math.min(maxPollNanos, idleNanos * 2);
        }
        waitNanos = Math.min(waitNanos, rateLimitWaitNanos);
        waitNanos = Math.min(waitNanos, untilAbandon);
        waitNanos = Math.min(waitNanos, untilNextRetry());
        waitNanos = Math.min(waitNanos, heartbeatNanos - (System.nanoTime() - lastHeartbeatNanos));
        if (!awaited.isEmpty()) {
          waitNanos = Math.min(waitNanos, pollNanos);
        }
        if (inOutage) {
          inOutage = false;
          outageBackoffNanos = 0;
          LOG.warn("job store is reachable again; service {} carries on", config.nodeId());
        }
      } catch (RuntimeException e) {
        waitNanos = onStoreFailure(e, maxPollNanos);
      }
      if (outcomes.isEmpty() && !stopDispatcher && waiter.await(Math.max(waitNanos, 0))) {
        idleNanos = pollNanos;
      }
    }
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
    while (true) {
      JobOutcome next;
      while (unsent.size() < MAX_OUTCOMES_PER_CALL && (next = outcomes.poll()) != null) {
        unsent.add(next);
      }
      if (unsent.isEmpty()) {
        return sent;
      }
      sent += unsent.size();
      CompletionResult result = store.complete(List.copyOf(unsent), config.clock().instant());
      for (JobOutcome outcome : unsent) {
        outcome.retryAt().ifPresent(this::noteRetry);
      }
      unsent.clear();
      if (!result.rejected().isEmpty()) {
        LOG.debug(
            "store rejected the outcomes of {} jobs whose lease was lost",
            result.rejected().size());
      }
      afterChange(result.batches());
    }
  }

  /**
   * Gives back the slots of jobs whose processor ignored its interrupt past the grace period: the
   * job ends as its stop reason says (timed out: failed or retried), and its thread is abandoned.
   * Returns the nanoseconds until the next such deadline.
   */
  private long abandonStuckJobs() {
    long grace = config.interruptGracePeriod().toNanos();
    long now = System.nanoTime();
    long next = Long.MAX_VALUE;
    for (RunningJob job : running.values()) {
      long at = job.abandonAtNanos(grace);
      if (at - now > 0) {
        next = Math.min(next, at - now);
        continue;
      }
      LOG.warn(
          "{} ignored its interrupt for longer than {}; ending it and giving its slot back (its"
              + " thread is abandoned)",
          job,
          config.interruptGracePeriod());
      report(
          job,
          null,
          new TimeoutException(
              "attempt timed out after "
                  + job.batch.jobTimeout()
                  + " and ignored its interrupt for "
                  + config.interruptGracePeriod()),
          now - job.launchedNanos);
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
        finished(batch);
      } else if (batch.status().isFinal()) {
        for (RunningJob job : running.values()) {
          if (job.claim.batchId().equals(batch.id())) {
            job.stop(RunningJob.Stop.CANCELLED);
          }
        }
      }
    }
  }

  private void finished(Batch batch) {
    LOG.debug("batch {} finished {}: {}", batch.id(), batch.status(), batch.progress());
    listeners.fire("batchFinished", batch.id(), l -> l.batchFinished(batch));
    CompletableFuture<Batch> future = awaited.remove(batch.id());
    if (future != null) {
      future.complete(batch);
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
        job.stop(RunningJob.Stop.LOST);
      }
    }
    for (JobId id : result.cancelRequested()) {
      RunningJob job = running.get(id);
      if (job != null) {
        job.stop(RunningJob.Stop.CANCELLED);
      }
    }
  }

  private void recoverExpiredLeases() {
    CompletionResult result = store.requeueExpired(config.clock().instant(), MAX_EXPIRED_PER_CALL);
    afterChange(result.batches());
  }

  private void pollAwaited() {
    for (Map.Entry<BatchId, CompletableFuture<Batch>> entry : awaited.entrySet()) {
      Optional<Batch> batch = store.findBatch(entry.getKey());
      if (batch.isEmpty()) {
        if (awaited.remove(entry.getKey(), entry.getValue())) {
          entry.getValue().completeExceptionally(new BatchNotFoundException(entry.getKey()));
        }
      } else if (batch.get().isFinished() && awaited.remove(entry.getKey(), entry.getValue())) {
        entry.getValue().complete(batch.get());
      }
    }
  }

  /**
   * Claims up to the free slots and starts the jobs; returns how many. Sets {@link
   * #rateLimitWaitNanos} when a rate-limited type had no permit, so that the dispatcher looks again
   * when the next one is due.
   *
   * <p>Rate limits: before the claim, permits are taken from each type's limiter up to the free
   * slots and passed as the type's claim limit. Of the permits a claim leaves unused, at most one
   * is kept for the next round, so a service that was idle cannot start a burst.
   */
  private int claimAndLaunch() {
    int free = config.maxConcurrency() - runningCount.get();
    if (free <= 0 || config.processors().isEmpty()) {
      return 0;
    }
    Map<String, Integer> types = new HashMap<>();
    for (String type : config.processors().keySet()) {
      RateLimiter<Object> limiter = rateLimiters.get(type);
      if (limiter == null) {
        types.put(type, free);
        continue;
      }
      int banked = bankedPermits.getOrDefault(type, 0);
      while (banked < free && limiter.tryAcquirePermit()) {
        banked++;
      }
      bankedPermits.put(type, banked);
      types.put(type, banked);
      if (banked == 0) {
        RateLimit limit = config.rateLimits().get(type);
        rateLimitWaitNanos =
            Math.min(rateLimitWaitNanos, Math.max(1, limit.per().toNanos() / limit.permits()));
      }
    }
    Instant now = config.clock().instant();
    List<ClaimedJob> claimed =
        store.claim(
            new ClaimRequest(
                config.nodeId(),
                free,
                now,
                now.plus(config.leaseDuration()),
                config.priorityAging(),
                types));
    for (ClaimedJob claim : claimed) {
      launch(claim);
    }
    bankedPermits.replaceAll((type, banked) -> Math.min(banked, 1));
    return claimed.size();
  }

  private void launch(ClaimedJob claim) {
    Batch batch = settings.get(claim.batchId(), id -> store.findBatch(id).orElse(null));
    if (batch == null) {
      LOG.warn(
          "claimed job {} of batch {}, which no longer exists; giving it back",
          claim.id(),
          claim.batchId());
      outcomes.add(JobOutcome.released(claim));
      return;
    }
    bankedPermits.computeIfPresent(batch.jobType(), (type, banked) -> Math.max(0, banked - 1));
    RunningJob job = new RunningJob(claim, batch, listeners);
    running.put(claim.id(), job);
    runningCount.incrementAndGet();
    try {
      workers.execute(() -> runJob(job));
    } catch (RejectedExecutionException e) {
      running.remove(claim.id());
      runningCount.decrementAndGet();
      outcomes.add(JobOutcome.released(claim));
    }
  }

  // ---------------------------------------------------------------- workers

  private void runJob(RunningJob job) {
    JobProcessor processor = config.processors().get(job.batch.jobType());
    long started = System.nanoTime();
    String result = null;
    Throwable failure = null;
    job.attach(Thread.currentThread());
    try {
      if (job.isCancelled()) {
        failure = new InterruptedException("stopped before it started");
      } else {
        listeners.fire("jobStarted", job.claim.id(), l -> l.jobStarted(job));
        result = timeoutFor(job.batch.jobTimeout()).get(() -> processor.process(job));
        long bytes = result == null ? 0 : utf8Length(result, config.maxPayloadBytes());
        if (bytes > config.maxPayloadBytes()) {
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
    } catch (TimeoutExceededException e) {
      failure = new TimeoutException("attempt timed out after " + job.batch.jobTimeout());
    } catch (FailsafeException e) {
      failure = e.getCause() == null ? e : e.getCause();
    } catch (Throwable e) {
      failure = e;
    } finally {
      job.detach();
    }
    report(job, result, failure, System.nanoTime() - started);
  }

  private FailsafeExecutor<String> timeoutFor(Duration timeout) {
    return timeouts.computeIfAbsent(
        timeout, t -> Failsafe.with(Timeout.<String>builder(t).withInterrupt().build()));
  }

  /** Turns the end of an attempt into an outcome for the dispatcher; the first report wins. */
  private void report(RunningJob job, String result, Throwable failure, long nanos) {
    if (!job.claimReport()) {
      return;
    }
    ClaimedJob claim = job.claim;
    RunningJob.Stop stop = job.stopReason();
    JobOutcome outcome;
    if (stop == RunningJob.Stop.LOST) {
      outcome = null; // another node owns the job now; the store would reject anything we send
    } else if (stop == RunningJob.Stop.CANCELLED) {
      outcome = JobOutcome.cancelled(claim);
      listeners.fire("jobCancelled", claim.id(), l -> l.jobCancelled(job));
    } else if (failure == null) {
      outcome = JobOutcome.succeeded(claim, result);
      stats.record(true, nanos, config.clock().instant().getEpochSecond());
      String stored = result;
      listeners.fire("jobSucceeded", claim.id(), l -> l.jobSucceeded(job, stored));
    } else if (stop == RunningJob.Stop.SHUTDOWN) {
      outcome = JobOutcome.released(claim);
    } else {
      stats.record(false, nanos, config.clock().instant().getEpochSecond());
      String error = describe(failure);
      boolean retry = claim.attempt() < job.batch.maxAttempts();
      if (retry) {
        Duration delay =
            backoff.delayAfter(claim.attempt(), ThreadLocalRandom.current().nextDouble());
        outcome = JobOutcome.retry(claim, error, config.clock().instant().plus(delay));
      } else {
        outcome = JobOutcome.failed(claim, error);
      }
      LOG.debug("{} failed (retry: {}): {}", job, retry, error);
      Throwable cause = failure;
      listeners.fire("jobFailed", claim.id(), l -> l.jobFailed(job, cause, retry));
    }
    if (outcome != null) {
      outcomes.add(outcome);
    }
    running.remove(claim.id());
    runningCount.decrementAndGet();
    waiter.wake();
  }

  private static String describe(Throwable failure) {
    String text =
        failure.getMessage() == null
            ? failure.getClass().getName()
            : failure.getClass().getName() + ": " + failure.getMessage();
    return text.length() <= MAX_ERROR_LENGTH ? text : text.substring(0, MAX_ERROR_LENGTH) + "...";
  }

  // ---------------------------------------------------------------- shutdown

  @Override
  public void close() {
    if (!state.compareAndSet(State.RUNNING, State.CLOSING)) {
      return;
    }
    LOG.info("closing batchkit service {}: {} jobs running", config.nodeId(), runningCount.get());
    subscription.close();
    waiter.wake();
    workers.shutdown();
    if (!awaitWorkers(config.shutdownGracePeriod())) {
      running.values().forEach(job -> job.stop(RunningJob.Stop.SHUTDOWN));
      if (!awaitWorkers(INTERRUPT_GRACE)) {
        for (RunningJob job : running.values()) {
          if (job.claimReport()) {
            LOG.warn("{} ignored its interrupt; giving its job back to the store", job);
            outcomes.add(JobOutcome.released(job.claim));
            running.remove(job.claim.id());
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
    IllegalStateException closed =
        new IllegalStateException("batchkit service " + config.nodeId() + " was closed");
    awaited.values().forEach(future -> future.completeExceptionally(closed));
    awaited.clear();
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
