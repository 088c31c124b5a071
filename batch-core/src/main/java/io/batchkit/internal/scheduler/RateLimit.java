package io.batchkit.internal.scheduler;

import dev.failsafe.RateLimiter;
import java.time.Duration;

/** A rate limit as configured: {@code permits} job starts per {@code per}. */
public record RateLimit(int permits, Duration per) {
  /** Returns a new limiter that spreads the permits evenly (a Failsafe smooth rate limiter). */
  RateLimiter<Object> limiter() {
    return RateLimiter.smoothBuilder(permits, per).build();
  }
}
