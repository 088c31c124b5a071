package io.batchkit.internal.scheduler;

import io.batchkit.BatchListener;
import io.batchkit.JobProcessor;
import io.batchkit.Webhook;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.SharedRateLimit;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.DoubleSupplier;

/**
 * The immutable settings of one service, copied from its builder. {@code memoryAwareFraction} is 0
 * when the service is not memory-aware; {@code memoryProbe} is null for the heap's own figure;
 * {@code webhookSecret} is null when the service sends no webhooks.
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
    Duration historyRetention,
    List<Webhook> webhooks,
    String webhookSecret) {

  /** Copies the collections. */
  public ServiceConfig {
    processors = Map.copyOf(processors);
    rateLimits = Map.copyOf(rateLimits);
    sharedRateLimits = Map.copyOf(sharedRateLimits);
    circuitBreakers = Map.copyOf(circuitBreakers);
    listeners = List.copyOf(listeners);
    webhooks = List.copyOf(webhooks);
  }

  /** Leaves the secret out. */
  @Override
  public String toString() {
    return "ServiceConfig{nodeId=" + nodeId + ", store=" + store.getClass().getSimpleName() + "}";
  }
}
