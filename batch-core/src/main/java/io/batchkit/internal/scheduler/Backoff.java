package io.batchkit.internal.scheduler;

import java.time.Duration;

/** The retry delay rule: exponential from an initial delay, capped, with symmetric jitter. */
final class Backoff {
  private final long initialMillis;
  private final long maxMillis;
  private final double jitter;

  Backoff(Duration initial, Duration max, double jitter) {
    this.initialMillis = initial.toMillis();
    this.maxMillis = max.toMillis();
    this.jitter = jitter;
  }

  /**
   * Returns the delay before the attempt after {@code failedAttempt} (1-based).
   *
   * @param random a number in {@code [0, 1)} that picks the jitter
   */
  Duration delayAfter(int failedAttempt, double random) {
    int doublings = Math.min(Math.max(failedAttempt - 1, 0), 40);
    double base = Math.min((double) maxMillis, initialMillis * Math.pow(2, doublings));
    double spread = base * jitter * (2 * random - 1);
    long millis = Math.round(Math.min(maxMillis, Math.max(0, base + spread)));
    return Duration.ofMillis(millis);
  }
}
