package io.batchkit.internal.memory;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchStatus;
import io.batchkit.JobStatus;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.Webhook;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.PriorityQueue;

/**
 * A batch's mutable state in the {@link InMemoryJobStore}: its counters, its job list and the two
 * small heaps of jobs that came back (see the store's comment). Guarded by the store's lock.
 */
final class BatchState {
  /** The settings, which never change; status, progress and times live in the fields below. */
  final Batch batch;

  final List<JobState> jobs;

  /**
   * Its jobs' ids when they are a run, so that no job keeps its own (see {@link JobIndex}); else
   * null.
   */
  final JobIndex.IdRun ids;

  final long[] counts = new long[JobStatus.values().length];
  final PriorityQueue<JobState> delayed = new PriorityQueue<>(JobState.BY_DUE);
  final PriorityQueue<JobState> returned = new PriorityQueue<>(JobState.BY_SEQ);
  int cursor;

  /** What happened to the batch, oldest first ({@code listBatchEvents}). */
  final List<BatchEvent> events = new ArrayList<>(4);

  /**
   * The attempts its jobs no longer show themselves; null until the first ({@link #attempts()}).
   */
  AttemptLog attemptLog;

  BatchStatus status;

  /** Its webhooks ({@code StoredRequest#webhooks}), and the events they are told of as bits. */
  List<Webhook> webhooks = List.of();

  int webhookEvents;

  /** The request's fingerprint, kept for a batch with an idempotency key; may be null. */
  String fingerprint;

  Instant startedAt;
  Instant updatedAt;
  Instant completedAt;
  Instant lastServedAt;
  long servedSeq;

  /**
   * The slots of this batch each node holds (see {@code ClaimRequest}); never a zero entry. Their
   * sum is {@link #slotsHeld}, which never exceeds the batch's limit.
   */
  final Map<String, Integer> slots = new HashMap<>(4);

  int slotsHeld;

  BatchState(Batch batch, int size, JobIndex.IdRun ids) {
    this.batch = batch;
    this.ids = ids;
    this.jobs = new ArrayList<>(size);
    this.counts[JobStatus.QUEUED.ordinal()] = size;
    this.status = batch.status();
    this.startedAt = batch.startedAt().orElse(null);
    this.updatedAt = batch.updatedAt();
  }

  /** Returns the attempt log, made on first use. */
  AttemptLog attempts() {
    if (attemptLog == null) {
      attemptLog = new AttemptLog();
    }
    return attemptLog;
  }

  Priority priority() {
    return batch.priority();
  }

  /** Returns the slots {@code nodeId} holds. */
  int slotsOf(String nodeId) {
    return slots.getOrDefault(nodeId, 0);
  }

  /** Gives {@code nodeId} {@code n} more slots. */
  void grantSlots(String nodeId, int n) {
    if (n > 0) {
      slots.merge(nodeId, n, Integer::sum);
      slotsHeld += n;
    }
  }

  /** Takes up to {@code n} slots back from {@code nodeId}; never below none. */
  void releaseSlots(String nodeId, int n) {
    int held = slotsOf(nodeId);
    int released = Math.min(held, n);
    if (released == held) {
      slots.remove(nodeId);
    } else {
      slots.put(nodeId, held - released);
    }
    slotsHeld -= released;
  }

  void move(JobStatus from, JobStatus to) {
    counts[from.ordinal()]--;
    counts[to.ordinal()]++;
  }

  Progress progress() {
    return new Progress(jobs.size(), counts[0], counts[1], counts[2], counts[3], counts[4]);
  }

  /** Returns the next due queued job in batch order, or null. */
  JobState nextDue(Instant now) {
    while (!delayed.isEmpty() && !delayed.peek().due.isAfter(now)) {
      returned.add(delayed.poll());
    }
    while (cursor < jobs.size() && jobs.get(cursor).status != JobStatus.QUEUED) {
      cursor++;
    }
    JobState fresh = cursor < jobs.size() ? jobs.get(cursor) : null;
    JobState back = returned.peek();
    if (back != null && (fresh == null || back.seq < fresh.seq)) {
      return returned.poll();
    }
    if (fresh != null) {
      cursor++;
    }
    return fresh;
  }

  Batch snapshot() {
    return snapshot(progress());
  }

  /** The batch as it is now, with {@code progress}, which must be its {@link #progress()}. */
  Batch snapshot(Progress progress) {
    return new Batch(
        batch.id(),
        batch.name(),
        batch.jobType(),
        batch.priority(),
        batch.metadata(),
        batch.maxConcurrency(),
        batch.maxAttempts(),
        batch.jobTimeout(),
        batch.failurePolicy(),
        batch.idempotencyKey(),
        status,
        progress,
        batch.createdAt(),
        Optional.ofNullable(startedAt),
        updatedAt,
        Optional.ofNullable(completedAt),
        Optional.empty());
  }
}
