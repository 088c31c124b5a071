package io.batchkit.internal.scheduler;

import java.time.Duration;

/**
 * A circuit breaker as configured: it opens after {@code failures} failed attempts within {@code
 * window}, and stays open for {@code openFor} before one trial job runs.
 */
public record CircuitBreakerConfig(int failures, Duration window, Duration openFor) {}
