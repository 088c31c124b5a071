package io.batchkit.internal.scheduler;

import java.time.Duration;

/** A rate limit as configured: {@code permits} job starts per {@code per}. */
public record RateLimit(int permits, Duration per) {}
