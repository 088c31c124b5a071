package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Figures for one {@link BatchService} since it was built.
 *
 * @param succeeded jobs this service ran to success
 * @param failed attempts that failed on this service (retried or not)
 * @param throughputPerSecond attempts ended per second on this service (succeeded, or failed
 *     whether retried or not; cancelled and given-back ones are not counted), over the last minute
 *     or since start if shorter
 * @param p50 median duration of recent attempts
 * @param p95 95th percentile duration of recent attempts
 * @param p99 99th percentile duration of recent attempts
 * @param running jobs running on this service now
 * @param queued jobs queued in the store for started batches, on all nodes
 * @param circuitBreakers the state of each job type's circuit breaker on this service, in the order
 *     they were set, empty if it has none
 */
public record BatchStatistics(
    long succeeded,
    long failed,
    double throughputPerSecond,
    Duration p50,
    Duration p95,
    Duration p99,
    int running,
    long queued,
    Map<String, CircuitState> circuitBreakers) {

  /**
   * Creates figures; copies {@code circuitBreakers}.
   *
   * @throws NullPointerException if a duration or {@code circuitBreakers} is null
   */
  public BatchStatistics {
    Checks.notNull(p50, "p50");
    Checks.notNull(p95, "p95");
    Checks.notNull(p99, "p99");
    circuitBreakers =
        Collections.unmodifiableMap(
            new LinkedHashMap<>(Checks.notNull(circuitBreakers, "circuitBreakers")));
  }
}
