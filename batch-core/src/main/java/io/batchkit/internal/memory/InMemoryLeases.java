package io.batchkit.internal.memory;

import io.batchkit.BatchId;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobProgress;
import io.batchkit.JobStatus;
import io.batchkit.internal.util.AttemptRecords;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.StoreChecks;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.JobStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import java.util.function.UnaryOperator;

/**
 * Where the {@link InMemoryJobStore}'s leases are renewed and expire: heartbeats (with the progress
 * running jobs report, and the cancellations their nodes must hear of), and taking back the jobs
 * whose lease ran out or whose node started again, each ended as {@link InMemoryOutcomes} ends
 * jobs.
 *
 * <p>Ownership: changes the {@link InMemoryState} under its lock, which each public step takes.
 */
final class InMemoryLeases {
  private final InMemoryState shared;
  private final InMemoryOutcomes outcomes;
  private final ReentrantLock lock;
  private final Map<BatchId, BatchState> batches;
  private final JobIndex jobs;
  private final ProcessingJobs processing;
  private final Map<JobState, JobProgress> progress;
  private final InMemorySubscribers subscribers;

  InMemoryLeases(InMemoryState shared, InMemoryOutcomes outcomes) {
    this.shared = shared;
    this.outcomes = outcomes;
    this.lock = shared.lock;
    this.batches = shared.batches;
    this.jobs = shared.jobs;
    this.processing = shared.processing;
    this.progress = shared.progress;
    this.subscribers = shared.subscribers;
  }

  /** What {@link JobStore#heartbeat(String, Map, Instant)} says; takes the lock. */
  HeartbeatResult heartbeat(String nodeId, Map<JobId, Long> leases, Instant leaseUntil) {
    return heartbeat(nodeId, leases, leaseUntil, Map.of());
  }

  /** What {@link JobStore#heartbeat(String, Map, Instant, Map)} says; takes the lock. */
  HeartbeatResult heartbeat(
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

  /** What {@link JobStore#requeueExpired} says; takes the lock. */
  CompletionResult requeueExpired(Instant now, int maxJobs) {
    Checks.notNull(now, "now");
    Checks.positive(maxJobs, "maxJobs");
    return takeBack(job -> job.due.isBefore(now), maxJobs, AttemptRecords::leaseExpired, now);
  }

  /**
   * Takes back up to {@code maxJobs} running jobs that {@code which} selects, as {@link
   * #requeueExpired} describes; {@code why} gives the error text from the job's owner.
   */
  CompletionResult takeBack(
      Predicate<JobState> which, int maxJobs, UnaryOperator<String> why, Instant now) {
    Map<BatchId, BatchState> touched = new LinkedHashMap<>();
    CompletionResult result;
    lock.lock();
    try {
      List<JobState> expired = new ArrayList<>();
      for (JobState job : processing) {
        if (which.test(job)) {
          expired.add(job);
        }
      }
      if (expired.size() > maxJobs) {
        // the leases that ended first, as the SQL store takes them: the set keeps no order
        expired.sort(JobState.BY_DUE);
        expired = expired.subList(0, maxJobs);
      }
      for (JobState job : expired) {
        processing.remove(job);
        shared.forgetProgress(job);
        job.due = null;
        job.updatedAt = now;
        BatchState state = job.batch;
        if (state.status.isFinal()) {
          outcomes.finish(job, JobStatus.CANCELLED, now, null, null);
        } else if (job.attempt < state.batch.maxAttempts()) {
          job.error = why.apply(job.owner);
          state.attempts().add(job, JobAttempt.Outcome.LEASE_LOST, job.startedAt, now, job.error);
          outcomes.requeue(job, now);
        } else {
          String error = why.apply(job.owner) + " and no attempt is left";
          state.attempts().add(job, JobAttempt.Outcome.LEASE_LOST, job.startedAt, now, error);
          outcomes.finish(job, JobStatus.FAILED, now, null, error);
        }
        touched.put(state.batch.id(), state);
      }
      dropIdleSlots();
      result = new CompletionResult(Set.of(), outcomes.settle(touched.values(), now));
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
}
