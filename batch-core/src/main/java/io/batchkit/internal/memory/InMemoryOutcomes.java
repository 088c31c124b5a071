package io.batchkit.internal.memory;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import io.batchkit.internal.util.AttemptRecords;
import io.batchkit.internal.util.BatchEvents;
import io.batchkit.internal.util.Checks;
import io.batchkit.spi.BatchStatusRule;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompleteAndClaimResult;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * How the {@link InMemoryJobStore} ends attempts: the outcomes a node reports (fenced by token),
 * what each does to its job (finished, queued again, cancelled once its batch ended), and the
 * batch-level rules applied after (the failure policy, the final status). The lease keeper of the
 * store ({@link InMemoryLeases}) ends the jobs it takes back with the same steps.
 *
 * <p>Ownership: changes the {@link InMemoryState} under its lock; {@link #complete} and {@link
 * #completeAndClaim} take it, the other steps are for a step that holds it.
 */
final class InMemoryOutcomes {
  private final InMemoryState shared;
  private final InMemoryClaims claims;
  private final ReentrantLock lock;
  private final JobIndex jobs;
  private final Set<BatchState> runnable;
  private final ProcessingJobs processing;
  private final InMemorySubscribers subscribers;

  InMemoryOutcomes(InMemoryState shared, InMemoryClaims claims) {
    this.shared = shared;
    this.claims = claims;
    this.lock = shared.lock;
    this.jobs = shared.jobs;
    this.runnable = shared.runnable;
    this.processing = shared.processing;
    this.subscribers = shared.subscribers;
  }

  /** What {@link JobStore#complete} says; takes the lock. */
  CompletionResult complete(List<JobOutcome> given, Instant now) {
    List<JobOutcome> outcomes = checkOutcomes(given, now);
    Applied applied = new Applied();
    CompletionResult result;
    lock.lock();
    try {
      applyLocked(outcomes, now, applied);
      result = new CompletionResult(applied.rejected, settle(applied, now));
    } finally {
      lock.unlock();
    }
    if (applied.requeued) {
      subscribers.announceWork();
    }
    subscribers.announceFinished(result.batches());
    return result;
  }

  /**
   * What {@link JobStore#completeAndClaim} says, both steps under one lock: the service's worker
   * calls this once per job.
   */
  CompleteAndClaimResult completeAndClaim(
      List<JobOutcome> given, Instant now, ClaimRequest request) {
    List<JobOutcome> outcomes = checkOutcomes(given, now);
    Checks.notNull(request, "request");
    Applied applied = new Applied();
    CompletionResult completion;
    List<ClaimedJob> claimed;
    lock.lock();
    try {
      applyLocked(outcomes, now, applied);
      completion = new CompletionResult(applied.rejected, settle(applied, now));
      claimed = claims.claimLocked(request);
    } finally {
      lock.unlock();
    }
    if (applied.requeued) {
      subscribers.announceWork();
    }
    subscribers.announceFinished(completion.batches());
    return new CompleteAndClaimResult(completion, claimed);
  }

  /**
   * Checked before any outcome is applied, so that a null one leaves the step undone. Returns the
   * outcomes in a list that is cheap to index: read by index, not by an iterator, as a worker of
   * the service calls once per job.
   */
  private static List<JobOutcome> checkOutcomes(List<JobOutcome> outcomes, Instant now) {
    Checks.notNull(outcomes, "outcomes");
    Checks.notNull(now, "now");
    List<JobOutcome> list = outcomes instanceof RandomAccess ? outcomes : new ArrayList<>(outcomes);
    for (int i = 0; i < list.size(); i++) {
      Checks.notNull(list.get(i), "outcome");
    }
    return list;
  }

  /**
   * What applying a group of outcomes did: the outcomes rejected, the batches changed (in the order
   * first changed) and whether a job went back to the queue of a running batch. Its collections are
   * made only when needed: the service's workers call with one outcome per job. Confined to the
   * calling thread.
   */
  private static final class Applied {
    Set<JobId> rejected = Set.of();

    /** The batch changed, while only one was; then null, and {@link #several} holds them. */
    BatchState only;

    Map<BatchId, BatchState> several;
    boolean requeued;

    void reject(JobId id) {
      if (rejected.isEmpty()) {
        rejected = new HashSet<>();
      }
      rejected.add(id);
    }

    void changed(BatchState state) {
      if (several != null) {
        several.putIfAbsent(state.batch.id(), state);
      } else if (only == null) {
        only = state;
      } else if (only != state) {
        several = new LinkedHashMap<>();
        several.put(only.batch.id(), only);
        several.put(state.batch.id(), state);
        only = null;
      }
    }
  }

  /**
   * Applies the accepted outcomes, noting in {@code applied} the rejected ones, the batches they
   * changed and whether a job went back to the queue of a running batch. Call under the lock.
   */
  private void applyLocked(List<JobOutcome> outcomes, Instant now, Applied applied) {
    BatchState last = null; // outcomes come grouped by batch: one note per run of them
    for (int i = 0; i < outcomes.size(); i++) { // a list cheap to index (checkOutcomes)
      JobOutcome outcome = outcomes.get(i);
      JobState job = jobs.find(outcome.jobId());
      if (job == null
          || job.status != JobStatus.PROCESSING
          || job.token != outcome.fencingToken()) {
        applied.reject(outcome.jobId());
        continue;
      }
      applied.requeued |=
          job.batch.status == BatchStatus.PROCESSING
              && (outcome.kind() == JobOutcome.Kind.RETRY
                  || outcome.kind() == JobOutcome.Kind.RELEASED);
      apply(job, outcome, now);
      if (job.batch != last) {
        last = job.batch;
        applied.changed(last);
      }
    }
  }

  /** Applies one accepted outcome to a PROCESSING job. */
  private void apply(JobState job, JobOutcome outcome, Instant now) {
    BatchState state = job.batch;
    processing.remove(job);
    shared.forgetProgress(job);
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

  void finish(JobState job, JobStatus status, Instant now, String result, String error) {
    job.batch.move(JobStatus.PROCESSING, status);
    job.status = status;
    job.result = result;
    job.error = error;
    job.finishedAt = now;
  }

  void requeue(JobState job, Instant due) {
    BatchState state = job.batch;
    state.move(JobStatus.PROCESSING, JobStatus.QUEUED);
    job.status = JobStatus.QUEUED;
    job.due = due;
    state.delayed.add(job);
    if (state.status == BatchStatus.PROCESSING) {
      runnable.add(state);
    }
  }

  /** {@link #settle(Iterable, Instant)} for the batches {@code applied} changed. */
  private List<Batch> settle(Applied applied, Instant now) {
    if (applied.several != null) {
      return settle(applied.several.values(), now);
    }
    return applied.only == null ? List.of() : List.of(settle(applied.only, now));
  }

  /**
   * Applies the batch-level rules to batches whose jobs just changed: the failure policy, then the
   * final status once nothing is pending. Returns their snapshots.
   */
  List<Batch> settle(Iterable<BatchState> touched, Instant now) {
    List<Batch> snapshots = new ArrayList<>();
    for (BatchState state : touched) {
      snapshots.add(settle(state, now));
    }
    return snapshots;
  }

  /** {@link #settle(Iterable, Instant)} for one batch; returns its snapshot. */
  private Batch settle(BatchState state, Instant now) {
    state.updatedAt = now;
    Progress progress = state.progress(); // made again only when the counts change
    if (state.status == BatchStatus.PROCESSING) {
      if (state.batch.failurePolicy().isTripped(progress)) {
        shared.record(
            state,
            BatchEvents.policyTripped(
                state.batch.id(), now, progress, state.batch.failurePolicy()));
        cancelQueued(state, now);
        state.status = BatchStatusRule.finalStatus(progress, false, true);
        state.completedAt = now;
        progress = state.progress();
      } else if (progress.pending() == 0) {
        state.status = BatchStatusRule.finalStatus(progress, false, false);
        state.completedAt = now;
      }
    }
    // a step that ends jobs touches only batches with jobs running, so each finishes here once
    if (state.status.isFinal() && progress.pending() == 0) {
      shared.record(state, BatchEvents.finished(state.batch.id(), now, state.status, progress));
    }
    return state.snapshot(progress);
  }

  /** Cancels every queued job of a batch and takes the batch out of the claim order. */
  long cancelQueued(BatchState state, Instant now) {
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
}
