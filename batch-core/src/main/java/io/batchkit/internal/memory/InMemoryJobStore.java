package io.batchkit.internal.memory;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchQuery;
import io.batchkit.BatchStatus;
import io.batchkit.CancellationSummary;
import io.batchkit.Job;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobNotFoundException;
import io.batchkit.JobProgress;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Node;
import io.batchkit.Page;
import io.batchkit.Progress;
import io.batchkit.StoreStatistics;
import io.batchkit.internal.util.BatchEvents;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.NewJobs;
import io.batchkit.internal.util.StoreChecks;
import io.batchkit.internal.util.Webhooks;
import io.batchkit.spi.BatchStatusRule;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompleteAndClaimResult;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.InsertResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import io.batchkit.spi.StoredRequest;
import io.batchkit.spi.Subscription;
import io.batchkit.spi.WebhookDelivery;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The {@link JobStore} that keeps everything on the heap. Its parts: what it holds, under one lock
 * ({@link InMemoryState}); where claims are made ({@link InMemoryClaims}); how attempts end ({@link
 * InMemoryOutcomes}); where leases are renewed and expire ({@link InMemoryLeases}); the reads of
 * batches and jobs ({@link InMemoryReads}) and of history and figures ({@link InMemoryHistory});
 * the state of a batch and of a job ({@link BatchState}, {@link JobState}), the registry of nodes
 * ({@link InMemoryNodes}), the subscribers ({@link InMemorySubscribers}) and the webhook deliveries
 * ({@link InMemoryWebhooks}). What stays here are the steps of a batch's life: insert, add jobs,
 * start, cancel, retry and delete.
 *
 * <p>Ownership: every public method that changes or reads the stored batches takes the state's lock
 * once for its whole atomic step, here or in the part it delegates to. The lock guards only
 * in-memory state; no user code or I/O runs under it.
 *
 * <p>Per batch, jobs that never ran are taken in order through a cursor over the batch's job list,
 * so a fresh batch costs no queue structure at all; jobs that come back (retries, released or
 * expired leases) wait in two small heaps: {@code delayed} by due time, then {@code returned} by
 * their order.
 */
public final class InMemoryJobStore implements JobStore {
  private final InMemoryState shared = new InMemoryState();
  private final ReentrantLock lock = shared.lock;
  private final Map<BatchId, BatchState> batches = shared.batches;
  private final JobIndex jobs = shared.jobs;
  private final Map<String, BatchId> idempotencyKeys = shared.idempotencyKeys;
  private final Set<BatchState> runnable = shared.runnable;
  private final Map<BatchId, Instant> scheduled = shared.scheduled;
  private final InMemorySubscribers subscribers = shared.subscribers;
  private final InMemoryWebhooks webhooks = shared.webhooks;

  private final InMemoryClaims claims = new InMemoryClaims(shared);
  private final InMemoryOutcomes outcomes = new InMemoryOutcomes(shared, claims);
  private final InMemoryLeases leases = new InMemoryLeases(shared, outcomes);
  private final InMemoryReads reads = new InMemoryReads(shared);

  /** The registry of nodes; guarded by its own monitor, not by the lock. */
  private final InMemoryNodes nodes = new InMemoryNodes();

  private final InMemoryHistory history = new InMemoryHistory(lock, batches, jobs, nodes);

  /** Creates an empty store; use {@link JobStore#inMemory()}. */
  public InMemoryJobStore() {}

  // reads of batches and jobs: InMemoryReads

  @Override
  public Optional<Batch> findBatchByIdempotencyKey(String key) {
    return reads.findBatchByIdempotencyKey(key);
  }

  @Override
  public Optional<Batch> findBatch(BatchId id) {
    return reads.findBatch(id);
  }

  @Override
  public Page<Batch> listBatches(BatchQuery query) {
    return reads.listBatches(query);
  }

  @Override
  public Page<Job> listJobs(JobQuery query) {
    return reads.listJobs(query);
  }

  @Override
  public Page<Job> listJobs(BatchId id, JobQuery query) {
    return reads.listJobs(id, query);
  }

  @Override
  public long countQueuedJobs() {
    return reads.countQueuedJobs();
  }

  // claims and outcomes: InMemoryClaims, InMemoryOutcomes

  @Override
  public List<ClaimedJob> claim(ClaimRequest request) {
    return claims.claim(request);
  }

  @Override
  public CompletionResult complete(List<JobOutcome> outcomes, Instant now) {
    return this.outcomes.complete(outcomes, now);
  }

  /** One lock for both steps: the service's worker calls this once per job. */
  @Override
  public CompleteAndClaimResult completeAndClaim(
      List<JobOutcome> outcomes, Instant now, ClaimRequest request) {
    return this.outcomes.completeAndClaim(outcomes, now, request);
  }

  // leases: InMemoryLeases

  @Override
  public HeartbeatResult heartbeat(String nodeId, Map<JobId, Long> leases, Instant leaseUntil) {
    return this.leases.heartbeat(nodeId, leases, leaseUntil);
  }

  @Override
  public HeartbeatResult heartbeat(
      String nodeId, Map<JobId, Long> leases, Instant leaseUntil, Map<JobId, JobProgress> reports) {
    return this.leases.heartbeat(nodeId, leases, leaseUntil, reports);
  }

  @Override
  public CompletionResult requeueExpired(Instant now, int maxJobs) {
    return leases.requeueExpired(now, maxJobs);
  }

  @Override
  public InsertResult insertBatch(Batch batch, List<NewJob> newJobs) {
    return insertBatch(batch, newJobs, StoredRequest.NONE);
  }

  @Override
  public InsertResult insertBatch(Batch batch, List<NewJob> newJobs, StoredRequest request) {
    StoreChecks.newBatch(batch, newJobs);
    StoreChecks.storedRequest(batch, request);
    String fingerprint = request.fingerprint().orElse(null);
    InsertResult inserted;
    lock.lock();
    try {
      Optional<String> key = batch.idempotencyKey();
      if (key.isPresent() && idempotencyKeys.containsKey(key.get())) {
        BatchState existing = batches.get(idempotencyKeys.get(key.get()));
        return new InsertResult(
            existing.snapshot(), false, Optional.ofNullable(existing.fingerprint));
      }
      if (batches.containsKey(batch.id())) {
        throw new IllegalArgumentException("batch id " + batch.id() + " is taken");
      }
      JobIndex.IdRun run = jobs.runOf(newJobs);
      jobs.checkFree(newJobs, run);
      BatchState state = new BatchState(batch, newJobs.size(), run);
      if (run != null && newJobs instanceof NewJobs made) {
        for (int i = 0; i < made.size(); i++) { // the run gives each job its id: none to make
          JobState job = new JobState(null, state, i, made.payload(i));
          job.updatedAt = batch.createdAt();
          state.jobs.add(job);
        }
      } else {
        for (NewJob newJob : newJobs) {
          JobId own = run == null ? newJob.id() : null;
          JobState job = new JobState(own, state, state.jobs.size(), newJob.payload());
          job.updatedAt = batch.createdAt();
          state.jobs.add(job);
        }
      }
      jobs.add(state);
      state.webhooks = request.webhooks();
      state.webhookEvents = Webhooks.events(request.webhooks());
      shared.record(state, BatchEvents.created(batch, batch.createdAt()));
      if (state.status == BatchStatus.PROCESSING) {
        shared.record(
            state, BatchEvents.started(batch.id(), batch.createdAt(), BatchEvents.ON_CREATION));
      }
      batches.put(batch.id(), state);
      key.ifPresent(k -> idempotencyKeys.put(k, batch.id()));
      if (key.isPresent()) {
        state.fingerprint = fingerprint;
      }
      request.startAt().ifPresent(at -> scheduled.put(batch.id(), at));
      if (state.status == BatchStatus.PROCESSING) {
        state.lastServedAt = state.startedAt;
        runnable.add(state);
      }
      inserted = new InsertResult(state.snapshot(), true, Optional.ofNullable(state.fingerprint));
    } finally {
      lock.unlock();
    }
    if (inserted.batch().status() == BatchStatus.PROCESSING) {
      subscribers.announceWork();
    }
    return inserted;
  }

  // what happened and how fast: read by InMemoryHistory, under the same lock

  @Override
  public List<BatchEvent> listBatchEvents(BatchId id) {
    return history.listBatchEvents(id);
  }

  @Override
  public List<JobAttempt> listJobAttempts(JobId id) {
    return history.listJobAttempts(id);
  }

  @Override
  public Map<JobStatus, List<Duration>> jobDurations(BatchId id, int max) {
    return history.jobDurations(id, max);
  }

  @Override
  public int purgeHistory(Instant before, int maxRows) {
    int deleted = history.purgeHistory(before, maxRows);
    return deleted < maxRows ? deleted + webhooks.purge(before, maxRows - deleted) : deleted;
  }

  @Override
  public StoreStatistics storeStatistics(Instant hourAgo) {
    return history.storeStatistics(hourAgo);
  }

  @Override
  public Batch addJobs(BatchId id, List<NewJob> newJobs, long maxTotal, Instant now) {
    Checks.notNull(id, "id");
    StoreChecks.newJobs(newJobs);
    Checks.notNull(now, "now");
    lock.lock();
    try {
      BatchState state = shared.require(id);
      StoreChecks.canAddJobs(id, state.status);
      StoreChecks.canHold(id, state.jobs.size(), newJobs.size(), maxTotal);
      jobs.checkFree(newJobs, null);
      List<JobState> added = new ArrayList<>(newJobs.size());
      for (NewJob newJob : newJobs) {
        JobState job =
            new JobState(newJob.id(), state, state.jobs.size() + added.size(), newJob.payload());
        job.updatedAt = now;
        added.add(job);
      }
      state.jobs.addAll(added);
      state.counts[JobStatus.QUEUED.ordinal()] += added.size();
      state.updatedAt = now;
      jobs.addOwnIds(added);
      shared.record(state, BatchEvents.itemsAdded(id, now, added.size(), state.jobs.size()));
      return state.snapshot();
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Batch startBatch(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    Batch started;
    lock.lock();
    try {
      BatchState state = shared.require(id);
      StoreChecks.canStart(id, state.status);
      started = start(state, now, BatchEvents.BY_CALL);
    } finally {
      lock.unlock();
    }
    subscribers.announceWork();
    return started;
  }

  @Override
  public List<Batch> startDueBatches(Instant now) {
    Checks.notNull(now, "now");
    List<Batch> started = new ArrayList<>();
    lock.lock();
    try {
      scheduled
          .keySet()
          .removeIf(
              id -> { // started, cancelled or deleted before its time
                BatchState state = batches.get(id);
                return state == null || state.status != BatchStatus.PENDING;
              });
      List<Map.Entry<BatchId, Instant>> due = new ArrayList<>();
      for (Map.Entry<BatchId, Instant> entry : scheduled.entrySet()) {
        if (!entry.getValue().isAfter(now)) {
          due.add(entry);
        }
      }
      due.sort(Map.Entry.comparingByValue()); // earliest first, as the SQL stores do
      for (Map.Entry<BatchId, Instant> entry : due.subList(0, Math.min(100, due.size()))) {
        scheduled.remove(entry.getKey());
        started.add(start(batches.get(entry.getKey()), now, BatchEvents.AT_START_TIME));
      }
    } finally {
      lock.unlock();
    }
    if (!started.isEmpty()) {
      subscribers.announceWork();
    }
    return started;
  }

  private Batch start(BatchState state, Instant now, String how) {
    state.status = BatchStatus.PROCESSING;
    state.startedAt = now;
    state.lastServedAt = now;
    state.updatedAt = now;
    shared.record(
        state, BatchEvents.started(state.batch.id(), now, how)); // its notification: started
    runnable.add(state);
    return state.snapshot();
  }

  @Override
  public boolean keepsWebhooks() {
    return true;
  }

  @Override
  public List<WebhookDelivery> claimWebhookDeliveries(Instant now, Instant leaseUntil, int max) {
    StoreChecks.webhookClaim(now, leaseUntil, max);
    return webhooks.claim(now, leaseUntil, max);
  }

  @Override
  public boolean webhookDelivered(WebhookDelivery delivery) {
    Checks.notNull(delivery, "delivery");
    return webhooks.delivered(delivery);
  }

  @Override
  public boolean webhookFailed(WebhookDelivery delivery, String error, Optional<Instant> retryAt) {
    Checks.notNull(delivery, "delivery");
    Checks.notNull(error, "error");
    Checks.notNull(retryAt, "retryAt");
    return webhooks.failed(delivery, error, retryAt);
  }

  // ------------------------------------------------------------------ nodes

  @Override
  public CompletionResult registerNode(Node node) {
    StoreChecks.liveNode(node);
    nodes.register(node);
    String id = node.nodeId();
    return leases.takeBack(
        job -> id.equals(job.owner),
        Integer.MAX_VALUE,
        owner -> "node " + owner + " started again",
        node.startedAt());
  }

  @Override
  public boolean nodeHeartbeat(Node node) {
    StoreChecks.liveNode(node);
    return nodes.heartbeat(node);
  }

  @Override
  public CompletionResult reapDeadNodes(Instant now, Instant staleBefore, Instant forgetBefore) {
    Checks.notNull(now, "now");
    Checks.notNull(staleBefore, "staleBefore");
    Checks.notNull(forgetBefore, "forgetBefore");
    // every node of this store lives in this JVM: none dies without the store, so none is dead
    nodes.forget(forgetBefore);
    return new CompletionResult(Set.of(), List.of());
  }

  @Override
  public void deregisterNode(String nodeId, Instant now) {
    Checks.notNull(nodeId, "nodeId");
    Checks.notNull(now, "now");
    nodes.deregister(nodeId, now);
  }

  @Override
  public List<Node> listNodes() {
    return nodes.list();
  }

  @Override
  public CancellationSummary cancelBatch(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    CancellationSummary summary;
    lock.lock();
    try {
      BatchState state = shared.require(id);
      StoreChecks.canCancel(id, state.status);
      long finished = state.progress().finished();
      long running = state.counts[JobStatus.PROCESSING.ordinal()];
      long cancelled = outcomes.cancelQueued(state, now);
      state.status = BatchStatusRule.finalStatus(state.progress(), true, false);
      state.completedAt = now;
      state.updatedAt = now;
      summary = new CancellationSummary(id, cancelled, running, finished);
      shared.record(state, BatchEvents.cancelled(summary, now));
      if (running == 0) { // nothing is left to end, so this step finished the batch
        shared.record(state, BatchEvents.finished(id, now, state.status, state.progress()));
      }
    } finally {
      lock.unlock();
    }
    if (summary.stoppingRunning() == 0) {
      subscribers.announceFinished(id); // nothing is left to end, so this step finished the batch
    }
    return summary;
  }

  @Override
  public Batch retryFailed(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    Batch retried;
    lock.lock();
    try {
      BatchState state = shared.require(id);
      Progress progress = state.progress();
      StoreChecks.canRetryFailed(id, state.status, progress);

      shared.record(state, BatchEvents.failedRetried(id, now, progress.failed()));
      for (JobState job : state.jobs) {
        if (job.status == JobStatus.FAILED) {
          queueFailedAgain(job, now);
        }
      }
      reopen(state, now);
      retried = state.snapshot();
    } finally {
      lock.unlock();
    }
    subscribers.announceWork();
    return retried;
  }

  @Override
  public List<Batch> retryJobs(Collection<JobId> ids, Instant now) {
    StoreChecks.retriedJobs(ids);
    Checks.notNull(now, "now");
    List<Batch> retried = new ArrayList<>();
    lock.lock();
    try {
      // every job is checked before any changes: the step is all or nothing
      Map<BatchState, Set<JobState>> byBatch = new LinkedHashMap<>();
      for (JobId id : ids) {
        JobState job = jobs.find(id);
        if (job == null) {
          throw new JobNotFoundException(id);
        }
        BatchState state = job.batch;
        StoreChecks.canRetryJob(id, job.status, state.batch.id(), state.status, state.progress());
        byBatch.computeIfAbsent(state, s -> new LinkedHashSet<>()).add(job);
      }
      byBatch.forEach(
          (state, failed) -> {
            shared.record(state, BatchEvents.failedRetried(state.batch.id(), now, failed.size()));
            failed.forEach(job -> queueFailedAgain(job, now));
            reopen(state, now);
            retried.add(state.snapshot());
          });
    } finally {
      lock.unlock();
    }
    subscribers.announceWork();
    return retried;
  }

  /** Queues a failed job again, due at once, with fresh attempts; its history keeps the old. */
  private void queueFailedAgain(JobState job, Instant now) {
    AttemptLog.keepShown(job, job.batch); // the failed attempt the job shows is overwritten
    job.batch.move(JobStatus.FAILED, JobStatus.QUEUED);
    job.status = JobStatus.QUEUED;
    job.attempt = 0;
    job.finishedAt = null;
    job.updatedAt = now;
    job.due = now;
    job.batch.delayed.add(job);
  }

  /** Makes a batch whose jobs were queued again run (again): PROCESSING, claimable. */
  private void reopen(BatchState state, Instant now) {
    state.status = BatchStatus.PROCESSING;
    state.completedAt = null;
    state.updatedAt = now;
    state.lastServedAt = now;
    runnable.add(state);
  }

  @Override
  public void deleteBatch(BatchId id) {
    Checks.notNull(id, "id");
    lock.lock();
    try {
      BatchState state = shared.require(id);
      StoreChecks.canDelete(id, state.status, state.progress());
      batches.remove(id);
      state.batch.idempotencyKey().ifPresent(idempotencyKeys::remove);
      jobs.remove(state);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Subscription subscribe(Runnable onWork) {
    return subscribers.onWork(Checks.notNull(onWork, "onWork"));
  }

  @Override
  public Subscription subscribeFinished(Consumer<BatchId> onFinished) {
    return subscribers.onFinished(Checks.notNull(onFinished, "onFinished"));
  }
}
