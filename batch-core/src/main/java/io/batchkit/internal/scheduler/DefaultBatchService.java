package io.batchkit.internal.scheduler;

import dev.failsafe.RateLimiter;
import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchException;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchPerformance;
import io.batchkit.BatchQuery;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatistics;
import io.batchkit.BatchStatus;
import io.batchkit.BatchValidationException;
import io.batchkit.BatchValidationException.Violation;
import io.batchkit.CancellationSummary;
import io.batchkit.IdempotencyConflictException;
import io.batchkit.Job;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.LeaseState;
import io.batchkit.LeasedJob;
import io.batchkit.Node;
import io.batchkit.Page;
import io.batchkit.Progress;
import io.batchkit.StoreStatistics;
import io.batchkit.Webhook;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.NewJobs;
import io.batchkit.internal.util.StoreChecks;
import io.batchkit.internal.webhook.WebhookSender;
import io.batchkit.spi.InsertResult;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import io.batchkit.spi.StoredRequest;
import io.batchkit.spi.Subscription;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link BatchService} implementation: a dispatcher thread over a pool of worker threads. This
 * class is the facade: it checks and stores what callers ask for, wires the parts together and
 * closes them in order. The work is done by its parts, each named for what it does:
 *
 * <ul>
 *   <li>{@link BatchRequestValidator}: what a request must satisfy before its batch is stored;
 *   <li>{@link Dispatcher}: the dispatcher thread and its round (claims, outcomes, outage backoff,
 *       the ready queue of jobs fetched ahead); {@link ClaimPlan}: what a round asks the store for,
 *       and the rate limits' permits;
 *   <li>{@link JobRunner}: the worker threads, and every way a job's attempt ends; {@link
 *       AttemptOutcomes}: what an ended attempt comes to (success, retry, failure; {@link
 *       FailureText}: the error text it stores); {@link BatchSettings}: the settings of the batches
 *       its jobs belong to;
 *   <li>{@link LeaseKeeper}: renewing leases and taking back expired ones;
 *   <li>{@link NodeWatch}: this node's row in the store's registry, and taking back the jobs of
 *       nodes that died;
 *   <li>{@link TimeoutWatch}: job timeouts;
 *   <li>{@link CircuitBreakers}: the job types whose downstream fails, whose jobs then wait;
 *   <li>{@link MemoryGuard}: no new job while the heap is too full;
 *   <li>{@link ScheduledStarts}: batches that start at a time of their own;
 *   <li>{@link HistoryPruner}: history past its retention;
 *   <li>{@link CompletionWaiters}: the futures of {@link #completion};
 *   <li>{@link PullWorkers}: jobs leased to workers outside the service ({@link #poll}) and their
 *       reports;
 *   <li>{@link WebhookSender}: the store's webhook notifications, when the service has a secret;
 *   <li>{@link NodeState}: the mutable state the parts share, with who owns each field (read its
 *       comment before changing how any two parts meet).
 * </ul>
 *
 * <p>The store owns all job and batch state; the service keeps no copy that could disagree with it,
 * except the immutable settings of batches ({@link BatchSettings}), forgotten on delete. This
 * class's own fields are set once, in the constructor; {@link NodeState#state} is written by {@link
 * #close} only. It is longer than the parts (about 575 lines) because it answers every method of
 * {@link BatchService}, each in a few lines of checks and a call to a part.
 */
public final class DefaultBatchService implements BatchService {
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private final ServiceConfig config;
  private final JobStore store;
  private final Listeners listeners;
  private final Stats stats;
  private final BatchRequestValidator validator;
  private final CompletionWaiters waiters;
  private final NodeState node = new NodeState();
  private final JobRunner runner;
  private final NodeWatch nodes;
  private final CircuitBreakers breakers;
  private final Dispatcher dispatcher;
  private final Subscription subscription;
  private final Subscription finishSubscription;
  private final PullWorkers pulls;

  /** Sends the store's webhook notifications; null when the service has no webhook secret. */
  private final WebhookSender sender;

  /** Starts a service; use {@link BatchService#builder()}. */
  public DefaultBatchService(ServiceConfig config) {
    this.config = config;
    this.store = config.store();
    this.sender =
        config.webhookSecret() == null || !store.keepsWebhooks()
            ? null
            : new WebhookSender(store, config.clock(), config.webhookSecret(), config.nodeId());
    this.listeners = new Listeners(WebhookSender.withWakeUps(config.listeners(), sender));
    Backoff backoff =
        new Backoff(config.retryInitialDelay(), config.retryMaxDelay(), config.retryJitter());
    this.stats = new Stats(config.clock().instant().getEpochSecond());
    this.validator = new BatchRequestValidator(config);
    this.waiters = new CompletionWaiters(store, listeners);
    this.breakers =
        new CircuitBreakers(
            config.circuitBreakers(),
            config.clock(),
            (type, state) -> {
              switch (state) {
                case OPEN -> listeners.fire("circuitOpened", type, l -> l.circuitOpened(type));
                case CLOSED -> listeners.fire("circuitClosed", type, l -> l.circuitClosed(type));
                case HALF_OPEN -> node.waiter.wake(); // the dispatcher claims the trial job
              }
            });
    MemoryGuard memory =
        config.memoryAwareFraction() == 0
            ? MemoryGuard.OFF
            : new MemoryGuard(
                config.memoryAwareFraction(),
                config.memoryProbe() != null
                    ? config.memoryProbe()
                    : MemoryGuard::heapAfterLastCollection);
    this.runner = new JobRunner(config, node, listeners, backoff, stats, waiters, breakers, memory);
    Map<String, RateLimiter<Object>> rateLimiters = new HashMap<>();
    config.rateLimits().forEach((type, limit) -> rateLimiters.put(type, limit.limiter()));
    this.pulls =
        new PullWorkers(
            config, Map.copyOf(rateLimiters), backoff, stats, runner, node.waiter::wake);
    LeaseKeeper leases = new LeaseKeeper(config, node, runner);
    TimeoutWatch timeouts = new TimeoutWatch(config, node, runner);
    this.nodes = new NodeWatch(config, node, runner, leases, stats);
    nodes.register(); // before any claim: takes back what a former node with this id left
    this.dispatcher =
        new Dispatcher(
            config,
            node,
            runner,
            leases,
            timeouts,
            waiters,
            nodes,
            breakers,
            memory,
            Map.copyOf(rateLimiters),
            new ScheduledStarts(config, listeners),
            new HistoryPruner(config));
    dispatcher.start();
    this.subscription =
        store.subscribe(
            () -> {
              node.waiter.wake();
              pulls.workAppeared();
            });
    this.finishSubscription =
        store.subscribeFinished(
            id -> {
              if (waiters.reportedFinished(id)) {
                node.waiter.wake();
              }
            });
    if (sender != null) {
      sender.start(); // last: a constructor that threw above leaves no thread behind
    }
    LOG.info(
        "batchkit service {} started: maxConcurrency={}, store={}, job types={}",
        config.nodeId(),
        config.maxConcurrency(),
        store.getClass().getSimpleName(),
        config.processors().keySet());
  }

  // ---------------------------------------------------------------- public API

  @Override
  public Batch createBatch(BatchRequest request) {
    return create(request, false).batch();
  }

  @Override
  public Batch submit(BatchRequest request) {
    InsertResult result = create(request, true);
    if (!result.created()
        && result.batch().status() == BatchStatus.PENDING
        && !isScheduled(request, config.clock().instant())) {
      try {
        return startBatch(result.batch().id());
      } catch (IllegalStateException e) {
        // another submit, or its scheduled start, started it in between: the same outcome
        return getBatch(result.batch().id());
      }
    }
    return result.batch();
  }

  /** Whether the request asks for a start later than {@code now}: its batch waits until then. */
  private static boolean isScheduled(BatchRequest request, Instant now) {
    return request.startAt().isPresent() && request.startAt().get().isAfter(now);
  }

  private InsertResult create(BatchRequest request, boolean forceStart) {
    ensureOpen();
    Checks.notNull(request, "request");
    List<Violation> violations = validator.validate(request);
    if (!violations.isEmpty()) {
      throw new BatchValidationException(violations);
    }
    Instant now = config.clock().instant();
    boolean scheduled = isScheduled(request, now);
    // a start time that has passed starts the batch at once
    boolean start =
        !scheduled && (forceStart || request.autoStart() || request.startAt().isPresent());
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
    List<NewJob> jobs = new NewJobs(request.items());
    String key = request.idempotencyKey().orElse(null);
    String fingerprint = key == null ? null : RequestFingerprint.of(request);
    List<Webhook> webhooks = new ArrayList<>(request.webhooks());
    webhooks.addAll(config.webhooks());
    StoredRequest kept =
        new StoredRequest(
            Optional.ofNullable(fingerprint),
            scheduled ? request.startAt() : Optional.empty(),
            webhooks);
    InsertResult result =
        kept.equals(StoredRequest.NONE)
            ? store.insertBatch(batch, jobs)
            : store.insertBatch(batch, jobs, kept);
    if (!result.created()
        && result.fingerprint().isPresent()
        && !result.fingerprint().get().equals(fingerprint)) {
      throw new IdempotencyConflictException(key, result.batch().id());
    }
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
  public Batch addItems(BatchId id, Collection<String> items) {
    ensureOpen();
    Checks.notNull(id, "id");
    Checks.notNull(items, "items");
    List<String> payloads = new ArrayList<>(items.size());
    for (String item : items) {
      if (item == null) { // the field's name is made only when it is needed
        Checks.notNull(item, "items[" + payloads.size() + "]");
      }
      payloads.add(item);
    }
    Batch batch = store.findBatch(id).orElseThrow(() -> new BatchNotFoundException(id));
    StoreChecks.canAddJobs(id, batch.status()); // the state first, as for every other change
    List<Violation> violations = new ArrayList<>();
    if (payloads.isEmpty()) {
      violations.add(new Violation("items", "must hold at least one item"));
    }
    violations.addAll(validator.validateItems(payloads, batch.progress().total()));
    if (!violations.isEmpty()) {
      throw new BatchValidationException(violations);
    }
    Batch changed;
    try {
      // the store checks the limit again under its lock: two additions at once cannot pass it
      changed =
          store.addJobs(
              id, new NewJobs(payloads), config.maxItemsPerBatch(), config.clock().instant());
    } catch (IllegalArgumentException e) {
      throw new BatchValidationException(List.of(new Violation("items", e.getMessage())));
    }
    LOG.debug("added {} jobs to batch {}", payloads.size(), id);
    return changed;
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
  public List<BatchEvent> getBatchEvents(BatchId id) {
    ensureOpen();
    return store.listBatchEvents(Checks.notNull(id, "id"));
  }

  @Override
  public Batch retryJob(JobId id) {
    return retryJobs(List.of(Checks.notNull(id, "id"))).get(0);
  }

  @Override
  public List<Batch> retryJobs(Collection<JobId> ids) {
    ensureOpen();
    StoreChecks.retriedJobs(ids);
    List<Batch> retried = store.retryJobs(List.copyOf(ids), config.clock().instant());
    node.waiter.wake(); // the jobs are due now
    return retried;
  }

  @Override
  public BatchPerformance getBatchPerformance(BatchId id) {
    ensureOpen();
    Checks.notNull(id, "id");
    Map<JobStatus, List<Duration>> durations = store.jobDurations(id, DURATION_SAMPLE);
    Batch batch = store.findBatch(id).orElseThrow(() -> new BatchNotFoundException(id));
    return BatchFigures.of(batch, durations, config.clock().instant());
  }

  @Override
  public List<JobAttempt> getJobHistory(JobId id) {
    ensureOpen();
    return store.listJobAttempts(Checks.notNull(id, "id"));
  }

  @Override
  public Batch getBatch(BatchId id) {
    ensureOpen();
    Batch batch =
        store.findBatch(Checks.notNull(id, "id")).orElseThrow(() -> new BatchNotFoundException(id));
    return batch.withEstimatedTimeRemaining(BatchFigures.estimate(batch, config.clock().instant()));
  }

  @Override
  public Optional<Batch> findBatchByIdempotencyKey(String key) {
    ensureOpen();
    return store.findBatchByIdempotencyKey(Checks.notNull(key, "idempotencyKey"));
  }

  @Override
  public Page<Job> getJobs(BatchId id, JobQuery query) {
    ensureOpen();
    Checks.notNull(id, "id");
    Checks.notNull(query, "query");
    if (query.filtersAcrossBatches()) {
      throw new IllegalArgumentException(
          "getJobs filters one batch's jobs by status only; job type, metadata and finish time are"
              + " listJobs's filters");
    }
    return store.listJobs(id, query);
  }

  @Override
  public Page<Job> listJobs(JobQuery query) {
    ensureOpen();
    return store.listJobs(Checks.notNull(query, "query"));
  }

  @Override
  public List<LeasedJob> poll(String jobType, int maxJobs, Duration lease) {
    ensureOpen();
    return pulls.poll(jobType, maxJobs, lease);
  }

  @Override
  public List<LeasedJob> poll(String jobType, int maxJobs, Duration lease, Duration wait) {
    ensureOpen();
    return pulls.poll(jobType, maxJobs, lease, wait);
  }

  @Override
  public boolean complete(String token, String result) {
    ensureOpen();
    return pulls.complete(token, result);
  }

  @Override
  public boolean fail(String token, String error, boolean retryable) {
    ensureOpen();
    return pulls.fail(token, error, retryable);
  }

  @Override
  public boolean release(String token) {
    ensureOpen();
    return pulls.release(token);
  }

  @Override
  public LeaseState extend(String token, Duration lease) {
    ensureOpen();
    return pulls.extend(token, lease);
  }

  @Override
  public CancellationSummary cancelBatch(BatchId id) {
    ensureOpen();
    CancellationSummary summary =
        store.cancelBatch(Checks.notNull(id, "id"), config.clock().instant());
    runner.stopJobsOf(id);
    LOG.info(
        "cancelled batch {}: {} queued jobs cancelled, {} running or fetched ahead told to stop, {}"
            + " already finished",
        id,
        summary.cancelledQueued(),
        summary.stoppingRunning(),
        summary.alreadyFinished());
    if (summary.stoppingRunning() == 0) {
      // nothing is left to end, so this call finished the batch
      store.findBatch(id).ifPresent(waiters::finished);
    }
    node.waiter.wake();
    if (sender != null) {
      sender.wake(); // its CANCELLED notification
    }
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
    Page<Batch> page = store.listBatches(Checks.notNull(query, "query"));
    Instant now = config.clock().instant();
    List<Batch> items = new ArrayList<>(page.items().size());
    page.items()
        .forEach(b -> items.add(b.withEstimatedTimeRemaining(BatchFigures.estimate(b, now))));
    return new Page<>(items, page.offset(), page.limit(), page.hasMore());
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
    Optional<StoreStatistics> all = storeStatistics();
    return new BatchStatistics(
        stats.succeeded(),
        stats.failed(),
        stats.throughput(nowSecond),
        p[0],
        p[1],
        p[2],
        Math.max(0, node.running.size() - node.readyCount()),
        all.map(StoreStatistics::queued).orElseGet(store::countQueuedJobs), // one read, one figure
        breakers.states(),
        all);
  }

  private Optional<StoreStatistics> storeStatistics() {
    try {
      return Optional.of(
          store.storeStatistics(config.clock().instant().minus(Duration.ofHours(1))));
    } catch (UnsupportedOperationException e) {
      return Optional.empty(); // a store written before them: the service's own figures stand
    }
  }

  @Override
  public String nodeId() {
    return config.nodeId();
  }

  @Override
  public List<Node> nodes() {
    ensureOpen();
    return store.listNodes();
  }

  @Override
  public boolean isClosed() {
    return node.state.get() != NodeState.State.RUNNING;
  }

  private void ensureOpen() {
    if (isClosed()) {
      throw new IllegalStateException("batchkit service " + config.nodeId() + " is closed");
    }
  }

  @Override
  public void close() {
    if (!node.state.compareAndSet(NodeState.State.RUNNING, NodeState.State.CLOSING)) {
      return;
    }
    LOG.info(
        "closing batchkit service {}: {} jobs running", config.nodeId(), node.runningCount.get());
    subscription.close();
    finishSubscription.close();
    pulls.close(); // waiting polls return: the web server stops after the service
    dispatcher.releaseClaimedAhead();
    node.waiter.wake();
    runner.shutdown();
    dispatcher.stop();
    nodes.deregister(); // after the last outcome: the node held no job when it is marked stopped
    waiters.closed(config.nodeId());
    if (sender != null) {
      sender.close(); // after the last outcome, whose notification it may still send
    }
    node.state.set(NodeState.State.CLOSED);
    LOG.info("batchkit service {} closed", config.nodeId());
  }
}
