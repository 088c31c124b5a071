package io.batchkit.spi;

import io.batchkit.BatchId;
import io.batchkit.JobId;
import io.batchkit.internal.util.Checks;

/**
 * A job that {@link JobStore#claim} handed to a node.
 *
 * @param id the job
 * @param batchId its batch
 * @param payload its payload
 * @param attempt the attempt this claim starts, from 1
 * @param fencingToken the token that every later call about this claim must present
 */
public record ClaimedJob(
    JobId id, BatchId batchId, String payload, int attempt, long fencingToken) {
  /**
   * Creates a claimed job.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code attempt} is not positive
   */
  public ClaimedJob {
    Checks.notNull(id, "id");
    Checks.notNull(batchId, "batchId");
    Checks.notNull(payload, "payload");
    Checks.positive(attempt, "attempt");
  }
}
