package io.batchkit.internal.memory;

import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchStatus;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobNotFoundException;
import io.batchkit.JobStatus;
import io.batchkit.Node;
import io.batchkit.StoreStatistics;
import io.batchkit.internal.util.Checks;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The {@link InMemoryJobStore}'s reads of what happened and how fast: batch events, attempt
 * history, job durations, store-wide figures, and the purge of old history, beside the reads of
 * batches and jobs ({@link InMemoryReads}); these read the same state ({@link InMemoryState}),
 * under the same lock, and write nothing but the purge.
 *
 * <p>Ownership: it holds the store's lock, batches, job index and registry of nodes, and touches
 * them only under that lock (the registry has its own).
 */
final class InMemoryHistory {
  private final ReentrantLock lock;
  private final Map<BatchId, BatchState> batches;
  private final JobIndex jobs;
  private final InMemoryNodes nodes;

  InMemoryHistory(
      ReentrantLock lock, Map<BatchId, BatchState> batches, JobIndex jobs, InMemoryNodes nodes) {
    this.lock = lock;
    this.batches = batches;
    this.jobs = jobs;
    this.nodes = nodes;
  }

  List<BatchEvent> listBatchEvents(BatchId id) {
    Checks.notNull(id, "id");
    lock.lock();
    try {
      return List.copyOf(require(id).events);
    } finally {
      lock.unlock();
    }
  }

  List<JobAttempt> listJobAttempts(JobId id) {
    Checks.notNull(id, "id");
    lock.lock();
    try {
      JobState job = jobs.find(id);
      if (job == null) {
        throw new JobNotFoundException(id);
      }
      return List.copyOf(AttemptLog.history(job, job.batch.attemptLog));
    } finally {
      lock.unlock();
    }
  }

  /**
   * Walks the batch's jobs backwards from the last one that ever ran (jobs past the cursor never
   * did) and stops once it has {@code max} of each status, or all the batch has: the walk is as
   * long as the sample, give or take the jobs of other statuses between them.
   */
  Map<JobStatus, List<Duration>> jobDurations(BatchId id, int max) {
    Checks.notNull(id, "id");
    Checks.positive(max, "max");
    lock.lock();
    try {
      BatchState state = require(id);
      long wantSucceeded = Math.min(max, state.counts[JobStatus.SUCCEEDED.ordinal()]);
      long wantFailed = Math.min(max, state.counts[JobStatus.FAILED.ordinal()]);
      List<Duration> succeeded = new ArrayList<>();
      List<Duration> failed = new ArrayList<>();
      for (int i = Math.min(state.cursor, state.jobs.size()) - 1;
          i >= 0 && (succeeded.size() < wantSucceeded || failed.size() < wantFailed);
          i--) {
        JobState job = state.jobs.get(i);
        if (job.startedAt == null || job.finishedAt == null) {
          continue;
        }
        if (job.status == JobStatus.SUCCEEDED && succeeded.size() < wantSucceeded) {
          succeeded.add(Duration.between(job.startedAt, job.finishedAt));
        } else if (job.status == JobStatus.FAILED && failed.size() < wantFailed) {
          failed.add(Duration.between(job.startedAt, job.finishedAt));
        }
      }
      return Map.of(JobStatus.SUCCEEDED, succeeded, JobStatus.FAILED, failed);
    } finally {
      lock.unlock();
    }
  }

  int purgeHistory(Instant before, int maxRows) {
    Checks.notNull(before, "before");
    Checks.positive(maxRows, "maxRows");
    int deleted = 0;
    lock.lock();
    try {
      for (BatchState state : batches.values()) {
        if (state.attemptLog != null) {
          deleted += state.attemptLog.purge(before, maxRows - deleted, state.jobs);
        }
        Iterator<BatchEvent> events = state.events.iterator();
        while (events.hasNext() && deleted < maxRows) {
          if (events.next().at().isBefore(before)) {
            events.remove();
            deleted++;
          }
        }
        if (deleted >= maxRows) {
          break;
        }
      }
    } finally {
      lock.unlock();
    }
    return deleted;
  }

  StoreStatistics storeStatistics(Instant hourAgo) {
    Checks.notNull(hourAgo, "hourAgo");
    long queued = 0;
    long running = 0;
    lock.lock();
    try {
      for (BatchState state : batches.values()) {
        if (state.status == BatchStatus.PROCESSING) {
          queued += state.counts[JobStatus.QUEUED.ordinal()];
          running += state.counts[JobStatus.PROCESSING.ordinal()];
        }
      }
    } finally {
      lock.unlock();
    }
    long succeeded = 0;
    long failed = 0;
    for (Node node : nodes.list()) {
      if (!node.lastHeartbeat().isBefore(hourAgo)) {
        succeeded += node.succeededLastHour();
        failed += node.failedLastHour();
      }
    }
    return new StoreStatistics(queued, running, succeeded, failed);
  }

  private BatchState require(BatchId id) {
    BatchState state = batches.get(id);
    if (state == null) {
      throw new BatchNotFoundException(id);
    }
    return state;
  }
}
