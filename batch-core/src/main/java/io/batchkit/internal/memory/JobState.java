package io.batchkit.internal.memory;

import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobProgress;
import io.batchkit.JobStatus;
import java.time.Instant;
import java.util.Comparator;
import java.util.Optional;

/** One job's mutable state in the {@link InMemoryJobStore}. Guarded by the store's lock. */
final class JobState {
  /** Jobs in batch order. */
  static final Comparator<JobState> BY_SEQ = Comparator.comparingInt(j -> j.seq);

  /** Jobs by due time, then in batch order. */
  static final Comparator<JobState> BY_DUE =
      Comparator.<JobState, Instant>comparing(j -> j.due).thenComparingInt(j -> j.seq);

  /** The id, or null if the batch's ids are a run ({@link BatchState#ids}): see {@link #id()}. */
  private final JobId id;

  final BatchState batch;
  final int seq;
  final String payload;
  JobStatus status = JobStatus.QUEUED;
  int attempt;
  long token;
  String owner;

  /**
   * While the job is PROCESSING, when its lease ends; while it waits QUEUED in its batch's {@code
   * delayed} heap, when it may run again (the heap's key, changed only outside the heap). One field
   * for both, as a job is never in both states, saves 8 bytes per job on a million.
   */
  Instant due;

  String result;
  String error;
  Instant startedAt;
  Instant finishedAt;
  Instant updatedAt;

  /**
   * Its place in {@link ProcessingJobs} while it is there, else -1: 8 bytes more on every job (72
   * to 80), for no hashing and no object per claim and per outcome.
   */
  int processingAt = -1;

  /**
   * @param id the job's id, or null if it is the one at {@code seq} in the batch's run of ids
   */
  JobState(JobId id, BatchState batch, int seq, String payload) {
    this.id = id;
    this.batch = batch;
    this.seq = seq;
    this.payload = payload;
  }

  /** Returns the job's own id, or null if its place in its batch's run of ids gives it. */
  JobId ownId() {
    return id;
  }

  /** Returns the job's id: its own, or the one its place in its batch's run of ids gives it. */
  JobId id() {
    return id != null ? id : batch.ids.id(seq);
  }

  /**
   * @param progress the progress of its running attempt, or null
   */
  Job snapshot(JobProgress progress) {
    return new Job(
        id(),
        batch.batch.id(),
        status,
        attempt,
        payload,
        Optional.ofNullable(result),
        Optional.ofNullable(error),
        Optional.ofNullable(startedAt),
        Optional.ofNullable(finishedAt),
        updatedAt,
        Optional.ofNullable(owner),
        Optional.ofNullable(progress));
  }
}
