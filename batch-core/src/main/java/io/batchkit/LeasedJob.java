package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Instant;

/**
 * A job leased to a worker outside the service's thread pool by {@link BatchService#poll}. The
 * worker runs it, then reports with its {@link #token()}: {@link BatchService#complete}, {@link
 * BatchService#fail} or {@link BatchService#release}, and {@link BatchService#extend} while it
 * needs more time. A lease that runs out unextended gives the job back to the queue, as a dead
 * node's jobs are given back (by the next sweep of any node), and the token is then refused. The
 * token is the lease's only key: it holds a secret, and whoever has it can report on the job.
 *
 * @param id the job
 * @param batchId its batch
 * @param jobType the batch's job type
 * @param payload the job's payload, exactly as given
 * @param attempt the attempt this lease starts, from 1
 * @param token the lease token: opaque text (URL-safe), good for this attempt only
 * @param leaseExpiry when the lease runs out unless it is extended
 */
public record LeasedJob(
    JobId id,
    BatchId batchId,
    String jobType,
    String payload,
    int attempt,
    String token,
    Instant leaseExpiry) {
  /**
   * Creates a leased job.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code attempt} is not positive or {@code token} is blank
   */
  public LeasedJob {
    Checks.notNull(id, "id");
    Checks.notNull(batchId, "batchId");
    Checks.notNull(jobType, "jobType");
    Checks.notNull(payload, "payload");
    Checks.positive(attempt, "attempt");
    Checks.notBlank(token, "token");
    Checks.notNull(leaseExpiry, "leaseExpiry");
  }

  /** Shows the ids, the attempt and the expiry; never the payload. */
  @Override
  public String toString() {
    return "LeasedJob[id="
        + id
        + ", batchId="
        + batchId
        + ", jobType="
        + jobType
        + ", attempt="
        + attempt
        + ", leaseExpiry="
        + leaseExpiry
        + "]";
  }
}
