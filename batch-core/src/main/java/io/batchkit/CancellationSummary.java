package io.batchkit;

import io.batchkit.internal.util.Checks;

/**
 * What {@link BatchService#cancelBatch(BatchId)} did to a batch's jobs.
 *
 * @param batchId the batch
 * @param cancelledQueued jobs that were queued and are now {@link JobStatus#CANCELLED}
 * @param stoppingRunning jobs that were processing (running, or leased to a node that fetched them
 *     ahead, which ends them at once without running them) and were told to stop; each ends {@link
 *     JobStatus#CANCELLED} when it has
 * @param alreadyFinished jobs that had ended before the cancellation and keep their status
 */
public record CancellationSummary(
    BatchId batchId, long cancelledQueued, long stoppingRunning, long alreadyFinished) {
  /**
   * Creates a summary.
   *
   * @throws NullPointerException if {@code batchId} is null
   * @throws IllegalArgumentException if a count is negative
   */
  public CancellationSummary {
    Checks.notNull(batchId, "batchId");
    if (cancelledQueued < 0 || stoppingRunning < 0 || alreadyFinished < 0) {
      throw new IllegalArgumentException("cancellation counts must not be negative");
    }
  }
}
