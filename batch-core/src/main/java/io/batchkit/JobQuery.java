package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.util.EnumSet;
import java.util.Set;

/**
 * Selects jobs of one batch: optionally by status, one page at a time, in creation order.
 *
 * <pre>{@code
 * Page<Job> failed = service.getJobs(batchId, JobQuery.withStatus(JobStatus.FAILED).page(0, 50));
 * }</pre>
 *
 * @param statuses the statuses to include; empty means all
 * @param offset how many matching jobs to skip
 * @param limit the most jobs to return, from 1 to {@value #MAX_LIMIT}
 */
public record JobQuery(Set<JobStatus> statuses, int offset, int limit) {
  /** The largest page size. */
  public static final int MAX_LIMIT = 10_000;

  /** The page size used when none is given. */
  public static final int DEFAULT_LIMIT = 100;

  /**
   * Creates a query; copies {@code statuses}.
   *
   * @throws NullPointerException if {@code statuses} or one of them is null
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is out of range
   */
  public JobQuery {
    statuses = Set.copyOf(Checks.notNull(statuses, "statuses"));
    Checks.notNegative(offset, "offset");
    Checks.between(limit, 1, MAX_LIMIT, "limit");
  }

  /** Returns the first {@value #DEFAULT_LIMIT} jobs, whatever their status. */
  public static JobQuery all() {
    return new JobQuery(Set.of(), 0, DEFAULT_LIMIT);
  }

  /**
   * Returns the first {@value #DEFAULT_LIMIT} jobs in one of the given statuses.
   *
   * @throws NullPointerException if a status is null
   * @throws IllegalArgumentException if no status is given
   */
  public static JobQuery withStatus(JobStatus first, JobStatus... more) {
    EnumSet<JobStatus> set = EnumSet.of(Checks.notNull(first, "status"));
    for (JobStatus s : Checks.notNull(more, "statuses")) {
      set.add(Checks.notNull(s, "status"));
    }
    return new JobQuery(set, 0, DEFAULT_LIMIT);
  }

  /**
   * Returns a copy that reads the page at {@code offset} of {@code limit} jobs.
   *
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is out of range
   */
  public JobQuery page(int offset, int limit) {
    return new JobQuery(statuses, offset, limit);
  }

  /** Returns whether a job in {@code status} matches. */
  public boolean matches(JobStatus status) {
    return statuses.isEmpty() || statuses.contains(status);
  }
}
