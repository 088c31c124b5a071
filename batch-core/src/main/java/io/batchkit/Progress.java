package io.batchkit;

import io.batchkit.internal.util.Checks;

/**
 * How many jobs of a batch are in each status. The figures are exact: every job is counted once, in
 * exactly one status, so the parts always add up to {@link #total()}.
 *
 * <p>Example: 5 jobs of which 3 succeeded and 2 failed give {@code pending() == 0}, {@code
 * finished() == 5} and {@code percentage() == 100.0}.
 *
 * @param total jobs in the batch
 * @param queued jobs waiting to run (or to be retried)
 * @param processing jobs leased to a node: those running now, and those a node fetched ahead to
 *     start as its running jobs of the batch end (see {@code BatchService.Builder.claimAhead}); so
 *     it may be above the batch's {@code maxConcurrency}, which bounds the jobs that run at once
 * @param succeeded jobs that succeeded
 * @param failed jobs that failed for good
 * @param cancelled jobs that were cancelled
 */
public record Progress(
    long total, long queued, long processing, long succeeded, long failed, long cancelled) {

  /**
   * Creates a progress figure.
   *
   * @throws IllegalArgumentException if a count is negative or the counts do not add up to total
   */
  public Progress {
    if (total < 0 || queued < 0 || processing < 0 || succeeded < 0 || failed < 0 || cancelled < 0) {
      throw new IllegalArgumentException(
          "progress counts must not be negative: "
              + describe(total, queued, processing, succeeded, failed, cancelled));
    }
    if (sumExact(queued, processing, succeeded, failed, cancelled) != total) {
      throw new IllegalArgumentException(
          "progress counts must add up to total: "
              + describe(total, queued, processing, succeeded, failed, cancelled));
    }
  }

  /** Returns the progress of a batch of {@code total} jobs that are all queued. */
  public static Progress allQueued(long total) {
    return new Progress(total, total, 0, 0, 0, 0);
  }

  /** Returns the jobs that have not ended yet: {@code queued + processing}. */
  public long pending() {
    return queued + processing;
  }

  /** Returns the jobs that have ended: {@code succeeded + failed + cancelled}. */
  public long finished() {
    return succeeded + failed + cancelled;
  }

  /** Returns {@code finished / total * 100}, or 0 for an empty batch. */
  public double percentage() {
    return total == 0 ? 0.0 : finished() * 100.0 / total;
  }

  /**
   * Returns the count for one status.
   *
   * @throws NullPointerException if {@code status} is null
   */
  public long count(JobStatus status) {
    return switch (Checks.notNull(status, "status")) {
      case QUEUED -> queued;
      case PROCESSING -> processing;
      case SUCCEEDED -> succeeded;
      case FAILED -> failed;
      case CANCELLED -> cancelled;
    };
  }

  /**
   * Returns a copy with {@code count} jobs moved from one status to another; stores use it to keep
   * their counters in step with each transition.
   *
   * @throws NullPointerException if a status is null
   * @throws IllegalArgumentException if {@code count} is negative or more jobs than {@code from}
   *     holds
   */
  public Progress moved(JobStatus from, JobStatus to, long count) {
    Checks.notNull(from, "from");
    Checks.notNull(to, "to");
    if (count < 0 || count > count(from)) {
      throw new IllegalArgumentException(
          "cannot move " + count + " jobs from " + from + ", it holds " + count(from));
    }
    if (from == to || count == 0) {
      return this;
    }
    long[] c = {queued, processing, succeeded, failed, cancelled};
    c[from.ordinal()] -= count;
    c[to.ordinal()] += count;
    return new Progress(total, c[0], c[1], c[2], c[3], c[4]);
  }

  /**
   * Returns the sum of five counts that are not negative, or -1 when it overflows (so it never
   * equals a valid total). Five parameters, not an array: a progress is made for every job recorded
   * in memory.
   */
  private static long sumExact(long q, long p, long s, long f, long c) {
    long sum = q + p;
    if (sum < 0 || (sum += s) < 0 || (sum += f) < 0 || (sum += c) < 0) {
      return -1;
    }
    return sum;
  }

  private static String describe(long t, long q, long p, long s, long f, long c) {
    return "total="
        + t
        + ", queued="
        + q
        + ", processing="
        + p
        + ", succeeded="
        + s
        + ", failed="
        + f
        + ", cancelled="
        + c;
  }
}
