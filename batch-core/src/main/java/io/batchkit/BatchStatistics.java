package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Figures for one {@link BatchService} since it was built, and for the whole store. The service's
 * own counts and percentiles are exact for this service; {@code queued} and the store's {@code
 * queued} and {@code running} are exact; the store's counts of the last hour are estimates (see
 * {@link StoreStatistics}).
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
 * @param store the figures over the whole store, every node included; empty if the store cannot
 *     tell them (a store written before they existed)
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
    Map<String, CircuitState> circuitBreakers,
    Optional<StoreStatistics> store) {

  /**
   * Creates figures; copies {@code circuitBreakers}.
   *
   * @throws NullPointerException if a duration, {@code circuitBreakers} or {@code store} is null
   */
  public BatchStatistics {
    Checks.notNull(store, "store");
    Checks.notNull(p50, "p50");
    Checks.notNull(p95, "p95");
    Checks.notNull(p99, "p99");
    circuitBreakers =
        Collections.unmodifiableMap(
            new LinkedHashMap<>(Checks.notNull(circuitBreakers, "circuitBreakers")));
  }

  /**
   * Creates figures without the store's.
   *
   * @throws NullPointerException if a duration or {@code circuitBreakers} is null
   */
  public BatchStatistics(
      long succeeded,
      long failed,
      double throughputPerSecond,
      Duration p50,
      Duration p95,
      Duration p99,
      int running,
      long queued,
      Map<String, CircuitState> circuitBreakers) {
    this(
        succeeded,
        failed,
        throughputPerSecond,
        p50,
        p95,
        p99,
        running,
        queued,
        circuitBreakers,
        Optional.empty());
  }
}
