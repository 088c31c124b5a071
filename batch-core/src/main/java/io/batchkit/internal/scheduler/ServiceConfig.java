package io.batchkit.internal.scheduler;

import io.batchkit.BatchListener;
import io.batchkit.JobProcessor;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.SharedRateLimit;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleSupplier;

/**
 * The immutable settings of one service, copied from its builder. {@code memoryAwareFraction} is 0
 * when the service is not memory-aware; {@code memoryProbe} is null for the heap's own figure.
 */
public record ServiceConfig(
    JobStore store,
    Map<String, JobProcessor> processors,
    boolean allowUnknownJobTypes,
    int maxConcurrency,
    int claimAhead,
    int defaultBatchConcurrency,
    int defaultMaxAttempts,
    Duration defaultJobTimeout,
    Duration retryInitialDelay,
    Duration retryMaxDelay,
    double retryJitter,
    Map<String, RateLimit> rateLimits,
    Map<String, SharedRateLimit> sharedRateLimits,
    Map<String, CircuitBreakerConfig> circuitBreakers,
    double memoryAwareFraction,
    DoubleSupplier memoryProbe,
    List<BatchListener> listeners,
    Clock clock,
    String nodeId,
    Duration leaseDuration,
    Duration pollInterval,
    Duration maxPollInterval,
    Duration priorityAging,
    Duration shutdownGracePeriod,
    Duration interruptGracePeriod,
    int maxItemsPerBatch,
    int maxPayloadBytes,
    Duration historyRetention) {

  /** Copies the collections. */
  public ServiceConfig {
    processors = Map.copyOf(processors);
    rateLimits = Map.copyOf(rateLimits);
    sharedRateLimits = Map.copyOf(sharedRateLimits);
    circuitBreakers = Map.copyOf(circuitBreakers);
    listeners = List.copyOf(listeners);
  }
}
