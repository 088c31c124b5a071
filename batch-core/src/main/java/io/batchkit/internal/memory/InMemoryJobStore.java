package io.batchkit.internal.memory;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
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
import io.batchkit.internal.util.AttemptRecords;
import io.batchkit.internal.util.BatchEvents;
import io.batchkit.internal.util.Checks;
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
import io.batchkit.spi.SharedRateLimit;
import io.batchkit.spi.StoredRequest;
import io.batchkit.spi.Subscription;
import io.batchkit.spi.WebhookDelivery;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * The {@link JobStore} that keeps everything on the heap. Its parts: the state of a batch and of a
 * job ({@link BatchState}, {@link JobState}), the registry of nodes ({@link InMemoryNodes}) and the
 * subscribers ({@link InMemorySubscribers}), and the reads of history and figures ({@link
 * InMemoryHistory}). What stays here, at about 1,020 lines, are the store's atomic steps themselves
 * (with the slots of each batch and the rate buckets, which claims and outcomes change under the
 * same lock): each takes the one lock for its whole step, and splitting them by concern (inserts,
 * claims, outcomes, leases) would spread that lock and the helpers every step shares (finish,
 * requeue, settle) over several files without making any of them simpler.
 *
 * <p>Ownership: every field below is guarded by {@link #lock}, and every public method takes it
 * once for its whole atomic step. The lock guards only in-memory state; no user code or I/O runs
 * under it.
 *
 * <p>Per batch, jobs that never ran are taken in order through a cursor over the batch's job list,
 * so a fresh batch costs no queue structure at all; jobs that come back (retries, released or
 * expired leases) wait in two small heaps: {@code delayed} by due time, then {@code returned} by
 * their order.
 */
public final class InMemoryJobStore implements JobStore {

  private final ReentrantLock lock = new ReentrantLock();
  private final Map<BatchId, BatchState> batches = new HashMap<>();
  private final JobIndex jobs = new JobIndex();
  private final Map<String, BatchId> idempotencyKeys = new HashMap<>();

  /** PROCESSING batches that still have queued jobs, in the order they were started. */
  private final Set<BatchState> runnable = new LinkedHashSet<>();

  /** Every job in status PROCESSING, for lease expiry. */
  private final Set<JobState> processing = new LinkedHashSet<>();

  /**
   * The progress the running jobs reported ({@code heartbeat}); a job's entry goes when its attempt
   * ends or a new one begins, so it holds running jobs only.
   */
  private final Map<JobState, JobProgress> progress = new HashMap<>();

  private long lastToken;

  /** Told of new work and of finished batches; not guarded by the lock: called after it. */
  private final InMemorySubscribers subscribers = new InMemorySubscribers();

  /** Scheduled starts of PENDING batches ({@link StoredRequest#startAt()}). */
  private final Map<BatchId, Instant> scheduled = new HashMap<>();

  /** The token buckets of rate limits held for all nodes, by key (see {@link SharedRateLimit}). */
  private final Map<String, Bucket> buckets = new HashMap<>();

  /** A token bucket: its tokens as of {@code at}. */
  private record Bucket(double tokens, Instant at) {}

  /** The registry of nodes; guarded by its own monitor, not by the lock. */
  private final InMemoryNodes nodes = new InMemoryNodes();

  private final InMemoryHistory history = new InMemoryHistory(lock, batches, jobs, nodes);

  /** The webhook deliveries; guarded by its own monitor, taken after the lock. */
  private final InMemoryWebhooks webhooks = new InMemoryWebhooks();

  /** Counts serves, so that batches served in the same millisecond still take turns. */
  private long lastServe;

  /** Creates an empty store; use {@link JobStore#inMemory()}. */
  public InMemoryJobStore() {}

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
      for (NewJob newJob : newJobs) {
        JobId own = run == null ? newJob.id() : null;
        JobState job = new JobState(own, state, state.jobs.size(), newJob.payload());
        job.updatedAt = batch.createdAt();
        state.jobs.add(job);
      }
      jobs.add(state);
      state.webhooks = request.webhooks();
      state.webhookEvents = Webhooks.events(request.webhooks());
      record(state, BatchEvents.created(batch, batch.createdAt()));
      if (state.status == BatchStatus.PROCESSING) {
        record(state, BatchEvents.started(batch.id(), batch.createdAt(), BatchEvents.ON_CREATION));
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

  @Override
  public Optional<Batch> findBatchByIdempotencyKey(String key) {
    Checks.notNull(key, "key");
    lock.lock();
    try {
      BatchId id = idempotencyKeys.get(key);
      return id == null ? Optional.empty() : Optional.of(batches.get(id).snapshot());
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Optional<Batch> findBatch(BatchId id) {
    Checks.notNull(id, "id");
    lock.lock();
    try {
      BatchState state = batches.get(id);
      return state == null ? Optional.empty() : Optional.of(state.snapshot());
    } finally {
      lock.unlock();
    }
  }

  @Override
  public Page<Batch> listBatches(BatchQuery query) {
    Checks.notNull(query, "query");
    List<Batch> all = new ArrayList<>();
    lock.lock();
    try {
      for (BatchState state : batches.values()) {
        Batch batch = state.snapshot();
        if (query.matches(batch)) {
          all.add(batch);
        }
      }
    } finally {
      lock.unlock();
    }
    all.sort(Comparator.comparing(Batch::createdAt).thenComparing(Batch::id).reversed());
    int from = Math.min(query.offset(), all.size());
    int to = Math.min(from + query.limit(), all.size());
    return new Page<>(all.subList(from, to), query.offset(), query.limit(), to < all.size());
  }

  @Override
  public Page<Job> listJobs(JobQuery query) {
    Checks.notNull(query, "query");
    // keeps only the highest offset + limit + 1 matches, lowest on top, and snapshots only the
    // page: a query over a large store holds the lock for one pass and no copy of every job
    long keep = (long) query.offset() + query.limit() + 1;
    PriorityQueue<JobState> highest =
        new PriorityQueue<>((a, b) -> unsigned(a.id().value(), b.id().value()));
    lock.lock();
    try {
      for (BatchState state : batches.values()) {
        Batch batch = state.batch; // the settings: job type and metadata never change
        if (query.jobType().isPresent() && !query.jobType().get().equals(batch.jobType())
            || !batch.metadata().entrySet().containsAll(query.metadata().entrySet())) {
          continue;
        }
        for (JobState job : state.jobs) {
          if (query.matches(batch, job.status, job.finishedAt)) {
            highest.add(job);
            if (highest.size() > keep) {
              highest.poll();
            }
          }
        }
      }
      List<JobState> kept = new ArrayList<>(highest);
      kept.sort((a, b) -> unsigned(b.id().value(), a.id().value()));
      int from = Math.min(query.offset(), kept.size());
      int to = (int) Math.min((long) from + query.limit(), kept.size());
      List<Job> page = new ArrayList<>(to - from);
      kept.subList(from, to).forEach(job -> page.add(snapshot(job)));
      return new Page<>(page, query.offset(), query.limit(), to < kept.size());
    } finally {
      lock.unlock();
    }
  }

  /** Compares job ids as unsigned 128-bit numbers, as the databases order them. */
  private static int unsigned(UUID x, UUID y) {
    int high = Long.compareUnsigned(x.getMostSignificantBits(), y.getMostSignificantBits());
    return high != 0
        ? high
        : Long.compareUnsigned(x.getLeastSignificantBits(), y.getLeastSignificantBits());
  }

  @Override
  public Page<Job> listJobs(BatchId id, JobQuery query) {
    Checks.notNull(id, "id");
    Checks.notNull(query, "query");
    lock.lock();
    try {
      BatchState state = require(id);
      List<Job> page = new ArrayList<>();
      boolean hasMore = false;
      if (query.statuses().isEmpty()) {
        // every job matches: the page starts at its offset, with no walk to it
        int from = Math.min(query.offset(), state.jobs.size());
        int to = (int) Math.min((long) from + query.limit(), state.jobs.size());
        state.jobs.subList(from, to).forEach(job -> page.add(snapshot(job)));
        return new Page<>(page, query.offset(), query.limit(), to < state.jobs.size());
      }
      int skipped = 0;
      for (JobState job : state.jobs) {
        if (!query.matches(job.status)) {
          continue;
        }
        if (skipped < query.offset()) {
          skipped++;
        } else if (page.size() < query.limit()) {
          page.add(snapshot(job));
        } else {
          hasMore = true;
          break;
        }
      }
      return new Page<>(page, query.offset(), query.limit(), hasMore);
    } finally {
      lock.unlock();
    }
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
      BatchState state = require(id);
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
      record(state, BatchEvents.itemsAdded(id, now, added.size(), state.jobs.size()));
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
      BatchState state = require(id);
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
    record(state, BatchEvents.started(state.batch.id(), now, how)); // its notification: started
    runnable.add(state);
    return state.snapshot();
  }

  @Override
  public List<ClaimedJob> claim(ClaimRequest request) {
    Checks.notNull(request, "request");
    lock.lock();
    try {
      return claimLocked(request);
    } finally {
      lock.unlock();
    }
  }

  /** One lock for both steps: the service's worker calls this once per job. */
  @Override
  public CompleteAndClaimResult completeAndClaim(
      List<JobOutcome> outcomes, Instant now, ClaimRequest request) {
    checkOutcomes(outcomes, now);
    Checks.notNull(request, "request");
    CompletionResult completion;
    List<ClaimedJob> claimed;
    boolean requeued;
    lock.lock();
    try {
      Set<JobId> rejected = new HashSet<>();
      Map<BatchId, BatchState> touched = new LinkedHashMap<>();
      requeued = applyLocked(outcomes, now, rejected, touched);
      completion = new CompletionResult(rejected, settle(touched.values(), now));
      claimed = claimLocked(request);
    } finally {
      lock.unlock();
    }
    if (requeued) {
      subscribers.announceWork();
    }
    subscribers.announceFinished(completion.batches());
    return new CompleteAndClaimResult(completion, claimed);
  }

  private List<ClaimedJob> claimLocked(ClaimRequest request) {
    if (runnable.isEmpty()) {
      return List.of();
    }
    List<BatchState> order = new ArrayList<>(runnable);
    if (order.size() > 1) {
      order.sort(
          Comparator.<BatchState>comparingLong(
                  b -> request.dispatchKey(b.priority(), b.lastServedAt))
              .thenComparingLong(b -> b.servedSeq)
              .thenComparing(b -> b.batch.id()));
    }
    List<ClaimedJob> claimed = new ArrayList<>(Math.min(request.maxJobs(), 64));
    Map<String, Integer> takenPerType = new HashMap<>();
    for (BatchState state : order) {
      int room = request.maxJobs() - claimed.size();
      if (room == 0) {
        break;
      }
      String type = state.batch.jobType();
      int typeRoom = request.limitFor(type) - takenPerType.getOrDefault(type, 0);
      int batchRoom = state.batch.maxConcurrency() - state.slotsHeld;
      int want = Math.min(room, Math.min(typeRoom, batchRoom));
      SharedRateLimit limit = request.sharedRateLimits().get(type);
      String key = null;
      double tokens = 0;
      if (limit != null && want > 0) {
        key = limit.bucketKey(type, state.batch.metadata());
        Bucket bucket = buckets.get(key);
        tokens =
            bucket == null
                ? limit.refill(-1, 0)
                : limit.refill(
                    bucket.tokens(), Duration.between(bucket.at(), request.now()).toNanos());
        want = Math.min(want, (int) Math.floor(tokens));
      }
      int got = take(state, want, true, request, claimed);
      if (key != null) {
        Bucket old = buckets.get(key);
        // a stamp never moves back (see RateBuckets in batch-jdbc): skewed clocks add no refill
        Instant at = old != null && old.at().isAfter(request.now()) ? old.at() : request.now();
        buckets.put(key, new Bucket(tokens - got, at));
      }
      state.grantSlots(request.nodeId(), got);
      takenPerType.merge(type, got, Integer::sum);
    }
    BatchState only = onlyCandidate(request);
    if (only != null && only.slotsOf(request.nodeId()) > 0) {
      take(only, request.fetchAheadFor(only.batch.jobType()), false, request, claimed);
    }
    return claimed;
  }

  /**
   * Returns the one runnable batch of the request's job types if there is exactly one and the
   * request may fetch its type ahead; else null.
   */
  private BatchState onlyCandidate(ClaimRequest request) {
    if (request.fetchAhead().isEmpty()) {
      return null;
    }
    BatchState only = null;
    for (BatchState state : runnable) {
      String type = state.batch.jobType();
      if (request.jobTypes().containsKey(type) || request.fetchAhead().containsKey(type)) {
        if (only != null) {
          return null;
        }
        only = state;
      }
    }
    return only != null && request.fetchAheadFor(only.batch.jobType()) > 0 ? only : null;
  }

  /**
   * Leases up to {@code want} due jobs of {@code state} in order and adds them to {@code claimed};
   * marks the batch served if it gave any. Returns how many it leased.
   */
  private int take(
      BatchState state, int want, boolean slot, ClaimRequest request, List<ClaimedJob> claimed) {
    int got = 0;
    while (got < want) {
      JobState job = state.nextDue(request.now());
      if (job == null) {
        break;
      }
      lease(job, request);
      claimed.add(
          new ClaimedJob(job.id(), state.batch.id(), job.payload, job.attempt, job.token, slot));
      got++;
    }
    if (got > 0) {
      state.lastServedAt = request.now();
      state.servedSeq = ++lastServe;
      state.updatedAt = request.now();
      if (state.counts[JobStatus.QUEUED.ordinal()] == 0) {
        runnable.remove(state);
      }
    }
    return got;
  }

  private void lease(JobState job, ClaimRequest request) {
    forgetProgress(job);
    job.batch.move(JobStatus.QUEUED, JobStatus.PROCESSING);
    job.status = JobStatus.PROCESSING;
    job.attempt++;
    job.token = ++lastToken;
    job.owner = request.nodeId();
    job.due = request.leaseUntil();
    job.startedAt = request.now();
    job.updatedAt = request.now();
    job.error = null;
    processing.add(job);
  }

  @Override
  public CompletionResult complete(List<JobOutcome> outcomes, Instant now) {
    checkOutcomes(outcomes, now);
    Set<JobId> rejected = new HashSet<>();
    Map<BatchId, BatchState> touched = new LinkedHashMap<>();
    boolean requeued;
    CompletionResult result;
    lock.lock();
    try {
      requeued = applyLocked(outcomes, now, rejected, touched);
      result = new CompletionResult(rejected, settle(touched.values(), now));
    } finally {
      lock.unlock();
    }
    if (requeued) {
      subscribers.announceWork();
    }
    subscribers.announceFinished(result.batches());
    return result;
  }

  /** Checked before any outcome is applied, so that a null one leaves the step undone. */
  private static void checkOutcomes(List<JobOutcome> outcomes, Instant now) {
    Checks.notNull(outcomes, "outcomes");
    Checks.notNull(now, "now");
    for (JobOutcome outcome : outcomes) {
      Checks.notNull(outcome, "outcome");
    }
  }

  /**
   * Applies the accepted outcomes, adding the rejected ones to {@code rejected} and the batches
   * they changed to {@code touched}; returns whether a job went back to the queue of a running
   * batch. Call under the lock.
   */
  private boolean applyLocked(
      List<JobOutcome> outcomes,
      Instant now,
      Set<JobId> rejected,
      Map<BatchId, BatchState> touched) {
    boolean requeued = false;
    BatchState last = null; // outcomes come grouped by batch: one map entry per run of them
    for (JobOutcome outcome : outcomes) {
      JobState job = jobs.find(outcome.jobId());
      if (job == null
          || job.status != JobStatus.PROCESSING
          || job.token != outcome.fencingToken()) {
        rejected.add(outcome.jobId());
        continue;
      }
      requeued |=
          job.batch.status == BatchStatus.PROCESSING
              && (outcome.kind() == JobOutcome.Kind.RETRY
                  || outcome.kind() == JobOutcome.Kind.RELEASED);
      apply(job, outcome, now);
      if (job.batch != last) {
        last = job.batch;
        touched.put(last.batch.id(), last);
      }
    }
    return requeued;
  }

  /** Applies one accepted outcome to a PROCESSING job. */
  private void apply(JobState job, JobOutcome outcome, Instant now) {
    BatchState state = job.batch;
    processing.remove(job);
    forgetProgress(job);
    if (outcome.releasesSlot()) {
      state.releaseSlots(job.owner, 1);
    }
    job.due = null;
    job.updatedAt = now;
    JobOutcome.Kind kind =
        AttemptRecords.effectiveKind(
            outcome.kind(), state.status.isFinal(), job.attempt, state.batch.maxAttempts());
    Instant started = AttemptRecords.start(outcome, job.startedAt);
    JobAttempt.Outcome recorded = AttemptRecords.recorded(kind, outcome);
    if (recorded != null) {
      state.attempts().add(job, recorded, started, now, AttemptRecords.error(recorded, outcome));
    }
    job.startedAt = started;
    switch (kind) {
      case SUCCEEDED -> finish(job, JobStatus.SUCCEEDED, now, outcome.result().orElse(null), null);
      case FAILED -> finish(job, JobStatus.FAILED, now, null, outcome.error().orElse(null));
      case CANCELLED -> finish(job, JobStatus.CANCELLED, now, null, null);
      case RETRY -> {
        job.error = outcome.error().orElse(null);
        requeue(job, outcome.retryAt().orElseThrow());
      }
      case RELEASED -> {
        job.attempt--;
        requeue(job, now);
      }
    }
  }

  private void finish(JobState job, JobStatus status, Instant now, String result, String error) {
    job.batch.move(JobStatus.PROCESSING, status);
    job.status = status;
    job.result = result;
    job.error = error;
    job.finishedAt = now;
  }

  private void requeue(JobState job, Instant due) {
    BatchState state = job.batch;
    state.move(JobStatus.PROCESSING, JobStatus.QUEUED);
    job.status = JobStatus.QUEUED;
    job.due = due;
    state.delayed.add(job);
    if (state.status == BatchStatus.PROCESSING) {
      runnable.add(state);
    }
  }

  /**
   * Applies the batch-level rules to batches whose jobs just changed: the failure policy, then the
   * final status once nothing is pending. Returns their snapshots.
   */
  private List<Batch> settle(Iterable<BatchState> touched, Instant now) {
    List<Batch> snapshots = new ArrayList<>();
    for (BatchState state : touched) {
      state.updatedAt = now;
      if (state.status == BatchStatus.PROCESSING) {
        Progress progress = state.progress();
        if (state.batch.failurePolicy().isTripped(progress)) {
          record(
              state,
              BatchEvents.policyTripped(
                  state.batch.id(), now, progress, state.batch.failurePolicy()));
          cancelQueued(state, now);
          state.status = BatchStatusRule.finalStatus(progress, false, true);
          state.completedAt = now;
        } else if (progress.pending() == 0) {
          state.status = BatchStatusRule.finalStatus(progress, false, false);
          state.completedAt = now;
        }
      }
      // a step that ends jobs touches only batches with jobs running, so each finishes here once
      if (state.status.isFinal() && state.progress().pending() == 0) {
        record(state, BatchEvents.finished(state.batch.id(), now, state.status, state.progress()));
      }
      snapshots.add(state.snapshot());
    }
    return snapshots;
  }

  /**
   * Records an event of a batch and, when one of its webhooks is told of it, the delivery of its
   * notification, with the batch as it is now: callers record after they changed the batch.
   */
  private void record(BatchState state, BatchEvent event) {
    state.events.add(event);
    if (Webhooks.toldOf(state.webhookEvents, event.type())) {
      webhooks.enqueue(state.webhooks, event, state.snapshot());
    }
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

  /** Cancels every queued job of a batch and takes the batch out of the claim order. */
  private long cancelQueued(BatchState state, Instant now) {
    long cancelled = 0;
    for (JobState job : state.jobs) {
      if (job.status == JobStatus.QUEUED) {
        state.move(JobStatus.QUEUED, JobStatus.CANCELLED);
        job.status = JobStatus.CANCELLED;
        job.finishedAt = now;
        job.updatedAt = now;
        cancelled++;
      }
    }
    state.cursor = state.jobs.size();
    state.delayed.clear();
    state.returned.clear();
    runnable.remove(state);
    return cancelled;
  }

  /** A job's snapshot, with the progress of its running attempt. Call under the lock. */
  private Job snapshot(JobState job) {
    return job.snapshot(
        progress.isEmpty() || job.status != JobStatus.PROCESSING ? null : progress.get(job));
  }

  /** Forgets the progress of a job whose attempt ends or begins. Call under the lock. */
  private void forgetProgress(JobState job) {
    if (!progress.isEmpty()) {
      progress.remove(job);
    }
  }

  @Override
  public HeartbeatResult heartbeat(String nodeId, Map<JobId, Long> leases, Instant leaseUntil) {
    return heartbeat(nodeId, leases, leaseUntil, Map.of());
  }

  @Override
  public HeartbeatResult heartbeat(
      String nodeId, Map<JobId, Long> leases, Instant leaseUntil, Map<JobId, JobProgress> reports) {
    Checks.notNull(nodeId, "nodeId");
    Checks.notNull(leases, "leases");
    Checks.notNull(leaseUntil, "leaseUntil");
    StoreChecks.progress(reports);
    Set<JobId> lost = new HashSet<>();
    Set<JobId> cancelRequested = new HashSet<>();
    lock.lock();
    try {
      leases.forEach(
          (id, token) -> {
            JobState job = jobs.find(id);
            if (job == null
                || job.status != JobStatus.PROCESSING
                || job.token != token
                || !nodeId.equals(job.owner)) {
              lost.add(id);
              return;
            }
            job.due = leaseUntil;
            JobProgress report = reports.get(id);
            if (report != null) {
              progress.put(job, report);
            }
            if (job.batch.status.isFinal()) {
              cancelRequested.add(id);
            }
          });
    } finally {
      lock.unlock();
    }
    return new HeartbeatResult(lost, cancelRequested);
  }

  @Override
  public CompletionResult requeueExpired(Instant now, int maxJobs) {
    Checks.notNull(now, "now");
    Checks.positive(maxJobs, "maxJobs");
    return takeBack(job -> job.due.isBefore(now), maxJobs, AttemptRecords::leaseExpired, now);
  }

  /**
   * Takes back up to {@code maxJobs} running jobs that {@code which} selects, as {@link
   * #requeueExpired} describes; {@code why} gives the error text from the job's owner.
   */
  private CompletionResult takeBack(
      Predicate<JobState> which, int maxJobs, UnaryOperator<String> why, Instant now) {
    Map<BatchId, BatchState> touched = new LinkedHashMap<>();
    CompletionResult result;
    lock.lock();
    try {
      List<JobState> expired = new ArrayList<>();
      for (JobState job : processing) {
        if (which.test(job)) {
          expired.add(job);
          if (expired.size() == maxJobs) {
            break;
          }
        }
      }
      for (JobState job : expired) {
        processing.remove(job);
        forgetProgress(job);
        job.due = null;
        job.updatedAt = now;
        BatchState state = job.batch;
        if (state.status.isFinal()) {
          finish(job, JobStatus.CANCELLED, now, null, null);
        } else if (job.attempt < state.batch.maxAttempts()) {
          job.error = why.apply(job.owner);
          state.attempts().add(job, JobAttempt.Outcome.LEASE_LOST, job.startedAt, now, job.error);
          requeue(job, now);
        } else {
          String error = why.apply(job.owner) + " and no attempt is left";
          state.attempts().add(job, JobAttempt.Outcome.LEASE_LOST, job.startedAt, now, error);
          finish(job, JobStatus.FAILED, now, null, error);
        }
        touched.put(state.batch.id(), state);
      }
      dropIdleSlots();
      result = new CompletionResult(Set.of(), settle(touched.values(), now));
    } finally {
      lock.unlock();
    }
    if (!touched.isEmpty()) {
      subscribers.announceWork();
    }
    subscribers.announceFinished(result.batches());
    return result;
  }

  /**
   * Takes away the slots held by nodes that run none of the batch's jobs any more: after their jobs
   * were taken back (an outcome that comes after its job was taken back cannot give its slot back).
   */
  private void dropIdleSlots() {
    Map<BatchState, Set<String>> running = new HashMap<>();
    for (JobState job : processing) {
      running.computeIfAbsent(job.batch, b -> new HashSet<>()).add(job.owner);
    }
    for (BatchState state : batches.values()) {
      if (state.slotsHeld > 0) {
        Set<String> owners = running.getOrDefault(state, Set.of());
        for (String owner : List.copyOf(state.slots.keySet())) {
          if (!owners.contains(owner)) {
            state.releaseSlots(owner, Integer.MAX_VALUE);
          }
        }
      }
    }
  }

  // ------------------------------------------------------------------ nodes

  @Override
  public CompletionResult registerNode(Node node) {
    StoreChecks.liveNode(node);
    nodes.register(node);
    String id = node.nodeId();
    return takeBack(
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
      BatchState state = require(id);
      StoreChecks.canCancel(id, state.status);
      long finished = state.progress().finished();
      long running = state.counts[JobStatus.PROCESSING.ordinal()];
      long cancelled = cancelQueued(state, now);
      state.status = BatchStatusRule.finalStatus(state.progress(), true, false);
      state.completedAt = now;
      state.updatedAt = now;
      summary = new CancellationSummary(id, cancelled, running, finished);
      record(state, BatchEvents.cancelled(summary, now));
      if (running == 0) { // nothing is left to end, so this step finished the batch
        record(state, BatchEvents.finished(id, now, state.status, state.progress()));
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
      BatchState state = require(id);
      Progress progress = state.progress();
      StoreChecks.canRetryFailed(id, state.status, progress);

      record(state, BatchEvents.failedRetried(id, now, progress.failed()));
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
            record(state, BatchEvents.failedRetried(state.batch.id(), now, failed.size()));
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
      BatchState state = require(id);
      StoreChecks.canDelete(id, state.status, state.progress());
      batches.remove(id);
      state.batch.idempotencyKey().ifPresent(idempotencyKeys::remove);
      jobs.remove(state);
    } finally {
      lock.unlock();
    }
  }

  @Override
  public long countQueuedJobs() {
    lock.lock();
    try {
      long queued = 0;
      for (BatchState state : runnable) {
        queued += state.counts[JobStatus.QUEUED.ordinal()];
      }
      return queued;
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

  private BatchState require(BatchId id) {
    BatchState state = batches.get(id);
    if (state == null) {
      throw new BatchNotFoundException(id);
    }
    return state;
  }
}
