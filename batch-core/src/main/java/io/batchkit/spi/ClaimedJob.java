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
 * @param holdsSlot true if the claim granted the job a slot of its batch, so it may start at once;
 *     false for a job fetched ahead, which starts only in a slot the node already holds (see {@link
 *     ClaimRequest})
 */
public record ClaimedJob(
    JobId id, BatchId batchId, String payload, int attempt, long fencingToken, boolean holdsSlot) {
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

  /**
   * Creates a claimed job that holds a slot.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code attempt} is not positive
   */
  public ClaimedJob(JobId id, BatchId batchId, String payload, int attempt, long fencingToken) {
    this(id, batchId, payload, attempt, fencingToken, true);
  }

  /** Shows the ids, attempt, token and slot; never the payload, which no log line should carry. */
  @Override
  public String toString() {
    return "ClaimedJob[id="
        + id
        + ", batchId="
        + batchId
        + ", attempt="
        + attempt
        + ", fencingToken="
        + fencingToken
        + ", holdsSlot="
        + holdsSlot
        + "]";
  }
}
