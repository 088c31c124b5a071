package io.batchkit.internal.util;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.Progress;
import io.batchkit.spi.NewJob;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** The argument checks of {@code JobStore.insertBatch}, shared by every store in this project. */
public final class StoreChecks {
  private StoreChecks() {}

  /**
   * Checks a new batch and its jobs as the {@code insertBatch} contract states.
   *
   * @throws NullPointerException if an argument or a job is null
   * @throws IllegalArgumentException if the batch is not PENDING or PROCESSING, a PROCESSING batch
   *     has no start time, there are no jobs, the progress does not count every job as queued, or
   *     two jobs share an id
   */
  public static void newBatch(Batch batch, List<NewJob> jobs) {
    Checks.notNull(batch, "batch");
    Checks.notNull(jobs, "jobs");
    for (NewJob job : jobs) {
      Checks.notNull(job, "job");
    }
    if (batch.status() != BatchStatus.PENDING && batch.status() != BatchStatus.PROCESSING) {
      throw new IllegalArgumentException(
          "a new batch must be PENDING or PROCESSING, was " + batch.status());
    }
    if (batch.status() == BatchStatus.PROCESSING && batch.startedAt().isEmpty()) {
      throw new IllegalArgumentException("a new PROCESSING batch must have a start time");
    }
    if (jobs.isEmpty()) {
      throw new IllegalArgumentException("a batch must have at least one job");
    }
    if (!batch.progress().equals(Progress.allQueued(jobs.size()))) {
      throw new IllegalArgumentException(
          "progress must count all " + jobs.size() + " jobs as queued, was " + batch.progress());
    }
    Set<JobId> ids = new HashSet<>();
    for (NewJob job : jobs) {
      if (!ids.add(job.id())) {
        throw new IllegalArgumentException("job id " + job.id() + " appears twice");
      }
    }
  }
}
