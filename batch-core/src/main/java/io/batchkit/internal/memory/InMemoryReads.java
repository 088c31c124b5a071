package io.batchkit.internal.memory;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchQuery;
import io.batchkit.Job;
import io.batchkit.JobProgress;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Page;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.Ids;
import io.batchkit.spi.JobStore;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link InMemoryJobStore}'s reads of batches and jobs: by id or idempotency key, and the pages
 * of {@code listBatches} and {@code listJobs}. Each takes the state's lock for one pass and returns
 * snapshots.
 */
final class InMemoryReads {
  private final InMemoryState shared;
  private final ReentrantLock lock;
  private final Map<BatchId, BatchState> batches;
  private final Map<String, BatchId> idempotencyKeys;
  private final Set<BatchState> runnable;
  private final Map<JobState, JobProgress> progress;

  InMemoryReads(InMemoryState shared) {
    this.shared = shared;
    this.lock = shared.lock;
    this.batches = shared.batches;
    this.idempotencyKeys = shared.idempotencyKeys;
    this.runnable = shared.runnable;
    this.progress = shared.progress;
  }

  /** What {@link JobStore#findBatchByIdempotencyKey} says; takes the lock. */
  Optional<Batch> findBatchByIdempotencyKey(String key) {
    Checks.notNull(key, "key");
    lock.lock();
    try {
      BatchId id = idempotencyKeys.get(key);
      return id == null ? Optional.empty() : Optional.of(batches.get(id).snapshot());
    } finally {
      lock.unlock();
    }
  }

  /** What {@link JobStore#findBatch} says; takes the lock. */
  Optional<Batch> findBatch(BatchId id) {
    Checks.notNull(id, "id");
    lock.lock();
    try {
      BatchState state = batches.get(id);
      return state == null ? Optional.empty() : Optional.of(state.snapshot());
    } finally {
      lock.unlock();
    }
  }

  /** What {@link JobStore#listBatches} says; takes the lock. */
  Page<Batch> listBatches(BatchQuery query) {
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

  /** What {@link JobStore#listJobs(JobQuery)} says; takes the lock. */
  Page<Job> listJobs(JobQuery query) {
    Checks.notNull(query, "query");
    // keeps only the highest offset + limit + 1 matches, lowest on top, and snapshots only the
    // page: a query over a large store holds the lock for one pass and no copy of every job
    long keep = (long) query.offset() + query.limit() + 1;
    PriorityQueue<JobState> highest =
        new PriorityQueue<>((a, b) -> Ids.STORE_ORDER.compare(a.id().value(), b.id().value()));
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
      kept.sort((a, b) -> Ids.STORE_ORDER.compare(b.id().value(), a.id().value()));
      int from = Math.min(query.offset(), kept.size());
      int to = (int) Math.min((long) from + query.limit(), kept.size());
      List<Job> page = new ArrayList<>(to - from);
      kept.subList(from, to).forEach(job -> page.add(snapshot(job)));
      return new Page<>(page, query.offset(), query.limit(), to < kept.size());
    } finally {
      lock.unlock();
    }
  }

  /** What {@link JobStore#listJobs(BatchId, JobQuery)} says; takes the lock. */
  Page<Job> listJobs(BatchId id, JobQuery query) {
    Checks.notNull(id, "id");
    Checks.notNull(query, "query");
    lock.lock();
    try {
      BatchState state = shared.require(id);
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

  /** What {@link JobStore#countQueuedJobs} says; takes the lock. */
  long countQueuedJobs() {
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

  /** A job's snapshot, with the progress of its running attempt. Call under the lock. */
  private Job snapshot(JobState job) {
    return job.snapshot(
        progress.isEmpty() || job.status != JobStatus.PROCESSING ? null : progress.get(job));
  }
}
