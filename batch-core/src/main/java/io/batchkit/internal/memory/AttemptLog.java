package io.batchkit.internal.memory;

import io.batchkit.JobAttempt;
import io.batchkit.JobStatus;
import io.batchkit.internal.util.AttemptRecords;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The attempts of one batch's jobs that the jobs no longer show themselves ({@link
 * AttemptRecords}): retries, time-outs, lost leases, jobs given back after they started, and the
 * failed attempts that {@code retryFailed} queued again. A job's final attempt is read from its
 * {@link JobState}, so a batch whose jobs all succeed at once has no log at all ({@link
 * BatchState#attempts}). Guarded by the store's lock.
 */
final class AttemptLog {
  /** A recorded attempt with the fencing token of its claim, which tells it from the job's own. */
  private record Entry(long token, JobAttempt attempt) {}

  /** By the job's place in its batch; each list oldest first. */
  private final Map<Integer, List<Entry>> bySeq = new HashMap<>();

  /**
   * Records the attempt {@code job} is ending now, before the job's state moves on: its number,
   * node and token are read from the job.
   */
  void add(
      JobState job, JobAttempt.Outcome outcome, Instant startedAt, Instant endedAt, String error) {
    JobAttempt attempt =
        new JobAttempt(
            job.id(),
            job.attempt,
            job.owner,
            startedAt,
            endedAt,
            outcome,
            Optional.ofNullable(error));
    bySeq.computeIfAbsent(job.seq, k -> new ArrayList<>(2)).add(new Entry(job.token, attempt));
  }

  /** Whether an attempt with the job's current token is recorded. */
  boolean hasCurrent(JobState job) {
    List<Entry> entries = bySeq.get(job.seq);
    if (entries != null) {
      for (Entry entry : entries) {
        if (entry.token == job.token) {
          return true;
        }
      }
    }
    return false;
  }

  /** The recorded attempts of {@code job}, oldest first. */
  List<JobAttempt> of(JobState job) {
    List<Entry> entries = bySeq.get(job.seq);
    List<JobAttempt> attempts = new ArrayList<>();
    if (entries != null) {
      entries.forEach(entry -> attempts.add(entry.attempt));
    }
    return attempts;
  }

  /**
   * Deletes up to {@code max} attempts that ended before {@code before}, but not one with its job's
   * current token: that one stands for the job's final attempt (the job does not show it) and stays
   * as long as the job. Returns how many it deleted.
   *
   * @param jobs the batch's jobs, by their place
   */
  int purge(Instant before, int max, List<JobState> jobs) {
    int deleted = 0;
    Iterator<Map.Entry<Integer, List<Entry>>> lists = bySeq.entrySet().iterator();
    while (lists.hasNext() && deleted < max) {
      Map.Entry<Integer, List<Entry>> list = lists.next();
      long current = jobs.get(list.getKey()).token;
      Iterator<Entry> it = list.getValue().iterator();
      while (it.hasNext() && deleted < max) {
        Entry entry = it.next();
        if (entry.token != current && entry.attempt.endedAt().isBefore(before)) {
          it.remove();
          deleted++;
        }
      }
      if (list.getValue().isEmpty()) {
        lists.remove();
      }
    }
    return deleted;
  }

  /**
   * Returns a job's ended attempts, oldest first: those recorded in {@code log} (null if its batch
   * has none), then the final attempt the job shows itself, if it does.
   */
  static List<JobAttempt> history(JobState job, AttemptLog log) {
    List<JobAttempt> attempts = log == null ? new ArrayList<>() : log.of(job);
    JobAttempt shown = shown(job, log);
    if (shown != null) {
      attempts.add(shown);
    }
    return attempts;
  }

  /**
   * Records the final attempt {@code job} shows itself, if it does, before a step overwrites it
   * ({@code retryFailed} queues the job again).
   */
  static void keepShown(JobState job, BatchState state) {
    JobAttempt shown = shown(job, state.attemptLog);
    if (shown != null) {
      state
          .attempts()
          .add(
              job, shown.outcome(), shown.startedAt(), shown.endedAt(), shown.error().orElse(null));
    }
  }

  /**
   * The final attempt a job shows itself: it has a final status, it started, and no record in
   * {@code log} has its current token. Else null.
   */
  private static JobAttempt shown(JobState job, AttemptLog log) {
    JobAttempt.Outcome outcome = AttemptRecords.shownBy(job.status);
    if (outcome == null
        || job.attempt == 0
        || job.owner == null
        || job.startedAt == null
        || job.finishedAt == null
        || (log != null && log.hasCurrent(job))) {
      return null;
    }
    return new JobAttempt(
        job.id(),
        job.attempt,
        job.owner,
        job.startedAt,
        job.finishedAt,
        outcome,
        Optional.ofNullable(job.status == JobStatus.FAILED ? job.error : null));
  }
}
