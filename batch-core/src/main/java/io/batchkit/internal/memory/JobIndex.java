package io.batchkit.internal.memory;

import io.batchkit.JobId;
import io.batchkit.internal.util.NewJobs;
import io.batchkit.spi.NewJob;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Finds a job of the {@link InMemoryJobStore} by its id, with no index entry per job where it can:
 * the jobs of a batch whose ids are a run ({@link IdRun}: one high half, low halves counting up by
 * one in the batch's order, as the service makes them) are found through the batch, by subtraction;
 * only the jobs of other batches, whose ids the store's caller chose freely, have an entry in a
 * map. On a million jobs that saves the map's entry and the id object per job, about half of what
 * the store holds for a queued job. Guarded by the store's lock.
 */
final class JobIndex {
  /** The batches whose ids are a run, by the high half all their ids share. */
  private final Map<Long, BatchState> runs = new HashMap<>();

  /** The jobs of every other batch. */
  private final Map<JobId, JobState> others = new HashMap<>();

  /**
   * The run {@link #find} found last, or null: a busy store finds one batch's jobs in a row, and
   * this spares each lookup boxing the high half for {@link #runs}.
   */
  private BatchState lastRun;

  /** Returns the job with {@code id}, or null. */
  JobState find(JobId id) {
    UUID value = id.value();
    long high = value.getMostSignificantBits();
    BatchState run = lastRun;
    if (run == null || run.ids.high() != high) {
      run = runs.isEmpty() ? null : runs.get(high);
      if (run != null) {
        lastRun = run;
      }
    }
    if (run != null) {
      long seq = value.getLeastSignificantBits() - run.ids.firstLow();
      if (seq >= 0 && seq < run.ids.length()) {
        return run.jobs.get((int) seq);
      }
    }
    return others.isEmpty() ? null : others.get(id);
  }

  /**
   * Returns the run that {@code jobs}' ids form, or null if they form none or its high half is
   * already one run's (then the batch's jobs go in the map).
   */
  IdRun runOf(List<NewJob> jobs) {
    if (jobs instanceof NewJobs run) { // a run by construction: no need to read every id
      return runs.containsKey(run.high())
          ? null
          : new IdRun(run.high(), run.firstLow(), run.size());
    }
    UUID first = jobs.get(0).id().value();
    long high = first.getMostSignificantBits();
    long low = first.getLeastSignificantBits();
    if (runs.containsKey(high)) {
      return null;
    }
    long expected = low;
    for (NewJob job : jobs) { // iterated, not indexed: any list is read in one pass
      UUID id = job.id().value();
      if (id.getMostSignificantBits() != high || id.getLeastSignificantBits() != expected++) {
        return null;
      }
    }
    return new IdRun(high, low, jobs.size());
  }

  /**
   * Throws if a job of {@code jobs} has an id taken by a stored job; {@code run} is what {@link
   * #runOf} returned for them.
   *
   * @throws IllegalArgumentException naming the first taken id
   */
  void checkFree(List<NewJob> jobs, IdRun run) {
    if (run != null && others.isEmpty()) {
      return; // no other run shares its high half, so no stored id can be one of its ids
    }
    for (NewJob job : jobs) {
      if (run != null ? others.containsKey(job.id()) : find(job.id()) != null) {
        throw new IllegalArgumentException("job id " + job.id() + " is taken");
      }
    }
  }

  /**
   * Makes the jobs of a new batch findable: through its run if it has one (then it was created with
   * no job of its own id), else each by its own id.
   */
  void add(BatchState state) {
    if (state.ids != null) {
      runs.put(state.ids.high(), state);
    } else {
      addOwnIds(state.jobs);
    }
  }

  /**
   * Makes jobs findable that were added to a stored batch, each with an id of its own (added jobs
   * are never part of the batch's run).
   */
  void addOwnIds(List<JobState> jobs) {
    for (JobState job : jobs) {
      if (job.ownId() != null) {
        others.put(job.ownId(), job);
      }
    }
  }

  /** Forgets the jobs of a deleted batch. */
  void remove(BatchState state) {
    if (state.ids != null) {
      runs.remove(state.ids.high());
      if (lastRun == state) {
        lastRun = null;
      }
    }
    for (JobState job : state.jobs) {
      if (job.ownId() != null) {
        others.remove(job.ownId());
      }
    }
  }

  /**
   * The ids of a batch's first {@code length} jobs when they are a run (those it was created with;
   * jobs added later have ids of their own): the job at position {@code seq} has the id ({@code
   * high}, {@code firstLow + seq}).
   */
  record IdRun(long high, long firstLow, int length) {
    /** Returns the id of the job at position {@code seq}. */
    JobId id(int seq) {
      return new JobId(new UUID(high, firstLow + seq));
    }
  }
}
