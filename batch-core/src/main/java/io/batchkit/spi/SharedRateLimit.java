package io.batchkit.spi;

import io.batchkit.internal.util.Checks;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * A rate limit that a store holds for every node that shares it: at most {@code permits} job starts
 * per {@code per}, counted in a token bucket per key, whose tokens a claim takes in the same step
 * as the jobs. The key is the job type, or with {@code metadataKey} the job type and the value the
 * batch has under that metadata key (a batch without it shares the bucket of the empty value), so
 * that, say, each {@code tenant} gets its own budget.
 *
 * <p>The bucket refills at {@code permits / per} and holds at most {@link #capacity()} tokens, a
 * tenth of the permits (at least 1): so in any window of length {@code per}, at most {@code permits
 * + capacity()} jobs start under one key, and an idle key cannot start a burst larger than the
 * capacity.
 *
 * @param metadataKey the batch metadata key whose value splits the budget, if any
 * @param permits the job starts allowed per {@code per}, from 1 to 1,000,000,000
 * @param per the period, at least 1 ms and at most a day
 */
public record SharedRateLimit(Optional<String> metadataKey, int permits, Duration per) {
  /**
   * Creates a limit.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code permits} is not between 1 and 1,000,000,000, {@code
   *     per} is not between 1 ms and 1 day, or the metadata key is blank
   */
  public SharedRateLimit {
    Checks.notNull(metadataKey, "metadataKey");
    metadataKey.ifPresent(k -> Checks.notBlank(k, "metadataKey"));
    Checks.between(permits, 1, 1_000_000_000, "permits");
    Checks.notNull(per, "per");
    if (per.compareTo(Duration.ofMillis(1)) < 0 || per.compareTo(Duration.ofDays(1)) > 0) {
      throw new IllegalArgumentException("per must be between 1 ms and 1 day, was " + per);
    }
  }

  /** Returns the most tokens a bucket holds: a tenth of the permits, at least 1. */
  public int capacity() {
    return Math.max(1, (permits + 9) / 10);
  }

  /** Returns how many tokens a bucket gains per nanosecond. */
  public double tokensPerNano() {
    return permits / (double) per.toNanos();
  }

  /**
   * Returns the bucket a batch of {@code jobType} with {@code metadata} draws from: 64 hex digits
   * of a SHA-256 over the job type and, with a metadata key, the key and the batch's value.
   *
   * @throws NullPointerException if an argument is null
   */
  public String bucketKey(String jobType, Map<String, String> metadata) {
    Checks.notNull(jobType, "jobType");
    Checks.notNull(metadata, "metadata");
    StringBuilder text = new StringBuilder(jobType);
    metadataKey.ifPresent(
        k -> text.append('\u0000').append(k).append('\u0000').append(metadata.getOrDefault(k, "")));
    try {
      MessageDigest digest = MessageDigest.getInstance("SHA-256");
      return HexFormat.of()
          .formatHex(digest.digest(text.toString().getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /**
   * Returns the tokens of a bucket that held {@code tokens} {@code elapsedNanos} ago, refilled and
   * capped at the capacity; a new bucket starts full ({@code tokens} negative).
   */
  public double refill(double tokens, long elapsedNanos) {
    if (tokens < 0) {
      return capacity();
    }
    return Math.min(capacity(), tokens + Math.max(0, elapsedNanos) * tokensPerNano());
  }
}
