package io.batchkit;

import io.batchkit.internal.util.Checks;

/**
 * When to give up on a batch whose jobs keep failing. Once the policy trips, the batch's queued
 * jobs are cancelled, its running jobs are told to stop, and the batch ends {@link
 * BatchStatus#FAILED}. Jobs a service fetched ahead and has not started are cancelled unrun, like
 * queued ones: a service records a failure before the failed job's slot passes to the next job it
 * fetched. While the store cannot be reached, failures are recorded once it can, and jobs may run
 * meanwhile.
 *
 * <p>Immutable and thread-safe. Made by {@link #never()}, {@link #maxFailures(int)} or {@link
 * #maxFailureRatio(double)}.
 *
 * @param maxFailures the batch is aborted once more than this many jobs have failed for good;
 *     {@code Integer.MAX_VALUE} when not set
 * @param maxFailureRatio the batch is aborted once more than this fraction of its jobs have failed
 *     for good; {@code 1.0} when not set
 */
public record FailurePolicy(int maxFailures, double maxFailureRatio) {
  private static final FailurePolicy NEVER = new FailurePolicy(Integer.MAX_VALUE, 1.0);

  /**
   * Creates a policy.
   *
   * @throws IllegalArgumentException if {@code maxFailures} is negative or {@code maxFailureRatio}
   *     is not within {@code [0, 1]}
   */
  public FailurePolicy {
    Checks.notNegative(maxFailures, "maxFailures");
    Checks.between(maxFailureRatio, 0.0, 1.0, "maxFailureRatio");
  }

  /** Returns the default policy: every job runs, however many fail. */
  public static FailurePolicy never() {
    return NEVER;
  }

  /**
   * Returns a policy that aborts the batch once more than {@code n} jobs have failed for good.
   *
   * @throws IllegalArgumentException if {@code n} is negative
   */
  public static FailurePolicy maxFailures(int n) {
    return new FailurePolicy(n, 1.0);
  }

  /**
   * Returns a policy that aborts the batch once more than {@code ratio} of its jobs (0.1 is 10%)
   * have failed for good.
   *
   * @throws IllegalArgumentException if {@code ratio} is not within {@code [0, 1]}
   */
  public static FailurePolicy maxFailureRatio(double ratio) {
    return new FailurePolicy(Integer.MAX_VALUE, ratio);
  }

  /**
   * Returns whether a batch with this progress has gone past the policy's limits.
   *
   * @throws NullPointerException if {@code progress} is null
   */
  public boolean isTripped(Progress progress) {
    Checks.notNull(progress, "progress");
    long failed = progress.failed();
    return failed > maxFailures
        || (progress.total() > 0 && (double) failed / progress.total() > maxFailureRatio);
  }
}
