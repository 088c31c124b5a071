package io.batchkit;

/**
 * The state of a job type's circuit breaker ({@code BatchService.Builder.circuitBreaker}), as
 * {@link BatchStatistics#circuitBreakers()} reports it.
 */
public enum CircuitState {
  /** Jobs of the type start as usual. */
  CLOSED,
  /** Too many attempts failed lately: no job of the type starts; they wait in the queue. */
  OPEN,
  /** The open period is over: one trial job runs; its outcome closes or opens the circuit. */
  HALF_OPEN
}
