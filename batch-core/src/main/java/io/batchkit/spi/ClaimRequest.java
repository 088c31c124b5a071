package io.batchkit.spi;

import io.batchkit.Priority;
import io.batchkit.internal.util.Checks;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * Asks {@link JobStore#claim} for up to {@code maxJobs} due jobs.
 *
 * <p>Batches are served in order of their dispatch key, {@link #dispatchKey(Priority, Instant)}:
 * {@code priority.rank() * agingStep + lastServedAt} in milliseconds, lowest first; ties go to the
 * batch served least recently (then the lower batch id), so turns hold even within one millisecond.
 * A batch's {@code lastServedAt} starts as its start time and becomes {@code now} whenever a claim
 * gives it jobs. So higher priorities run first, batches of equal priority take turns, and a batch
 * that has waited one {@code agingStep} longer than another counts as one priority level higher.
 *
 * @param nodeId the claiming node, stored as the jobs' owner
 * @param maxJobs the most jobs to claim, at least 1
 * @param now the current time: jobs whose retry time is after it are not due
 * @param leaseUntil the lease expiry to store with each claimed job
 * @param agingStep how much waiting raises a batch by one priority level
 * @param jobTypes the job types the node runs, each with the most jobs of that type to claim (less
 *     than {@code maxJobs} for a rate-limited type); jobs of types not named are left for other
 *     nodes
 */
public record ClaimRequest(
    String nodeId,
    int maxJobs,
    Instant now,
    Instant leaseUntil,
    Duration agingStep,
    Map<String, Integer> jobTypes) {

  /**
   * Creates a request; copies {@code jobTypes}.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code maxJobs} is not positive, a limit is negative, or
   *     {@code agingStep} is not positive
   */
  public ClaimRequest {
    Checks.notBlank(nodeId, "nodeId");
    Checks.positive(maxJobs, "maxJobs");
    Checks.notNull(now, "now");
    Checks.notNull(leaseUntil, "leaseUntil");
    Checks.positive(agingStep, "agingStep");
    jobTypes = Map.copyOf(Checks.notNull(jobTypes, "jobTypes"));
    jobTypes.forEach((type, limit) -> Checks.notNegative(limit, "jobTypes[" + type + "]"));
  }

  /**
   * Returns the most jobs of {@code jobType} this claim may take: 0 for a type the node does not
   * run.
   *
   * @throws NullPointerException if {@code jobType} is null
   */
  public int limitFor(String jobType) {
    return jobTypes.getOrDefault(Checks.notNull(jobType, "jobType"), 0);
  }

  /**
   * Returns the dispatch key of a batch: lower keys are served first.
   *
   * @throws NullPointerException if an argument is null
   */
  public long dispatchKey(Priority priority, Instant lastServedAt) {
    return priority.rank() * agingStep.toMillis() + lastServedAt.toEpochMilli();
  }
}
