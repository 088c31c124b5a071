package io.batchkit.internal.memory;

import io.batchkit.Job;
import io.batchkit.JobId;
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
      Comparator.<JobState, Instant>comparing(j -> j.runAt).thenComparingInt(j -> j.seq);

  final JobId id;
  final BatchState batch;
  final int seq;
  final String payload;
  JobStatus status = JobStatus.QUEUED;
  int attempt;
  long token;
  String owner;
  Instant leaseUntil;
  Instant runAt;
  String result;
  String error;
  Instant startedAt;
  Instant finishedAt;
  Instant updatedAt;

  JobState(JobId id, BatchState batch, int seq, String payload) {
    this.id = id;
    this.batch = batch;
    this.seq = seq;
    this.payload = payload;
  }

  Job snapshot() {
    return new Job(
        id,
        batch.batch.id(),
        status,
        attempt,
        payload,
        Optional.ofNullable(result),
        Optional.ofNullable(error),
        Optional.ofNullable(startedAt),
        Optional.ofNullable(finishedAt),
        updatedAt,
        Optional.ofNullable(owner));
  }
}
