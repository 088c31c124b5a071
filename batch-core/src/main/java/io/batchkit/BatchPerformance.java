package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Duration;

/**
 * How fast one batch runs: its throughput, and how long its jobs take. Read with {@link
 * BatchService#getBatchPerformance}.
 *
 * @param batchId the batch
 * @param ended how many of its jobs ended by an attempt (succeeded or failed); exact
 * @param running how long it has run: from its start to its completion, or to now while it runs;
 *     zero before it started; exact
 * @param throughputPerSecond {@code ended} per second of {@code running}; 0 before it started
 * @param sampled how many job durations the percentiles below are taken from: the final attempts of
 *     up to {@value BatchService#DURATION_SAMPLE} of its latest succeeded jobs and as many failed
 *     ones (latest in the batch's order); the percentiles are exact when the batch has no more
 *     ended jobs than that, and an estimate from its latest jobs otherwise
 * @param p50 the median duration of a job's final attempt, from its start (when its node started
 *     it, or its claim's time when it started within a millisecond of it) to when its outcome was
 *     recorded (which, for short jobs, includes waiting for the node's next round of outcomes);
 *     each sampled duration weighs as many jobs of its status as it stands for; zero without a
 *     sample
 * @param p95 the 95th percentile
 * @param p99 the 99th percentile
 */
public record BatchPerformance(
    BatchId batchId,
    long ended,
    Duration running,
    double throughputPerSecond,
    int sampled,
    Duration p50,
    Duration p95,
    Duration p99) {

  /**
   * Creates figures.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a count, a duration or the throughput is negative
   */
  public BatchPerformance {
    Checks.notNull(batchId, "batchId");
    if (ended < 0) {
      throw new IllegalArgumentException("ended must not be negative, was " + ended);
    }
    Checks.notNegative(running, "running");
    Checks.between(throughputPerSecond, 0, Double.MAX_VALUE, "throughputPerSecond");
    Checks.notNegative(sampled, "sampled");
    Checks.notNegative(p50, "p50");
    Checks.notNegative(p95, "p95");
    Checks.notNegative(p99, "p99");
  }
}
