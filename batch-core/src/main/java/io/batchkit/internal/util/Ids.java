package io.batchkit.internal.util;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Generates time-ordered UUIDs in the version 7 layout: 48 bits of Unix milliseconds, then a 12-bit
 * counter that keeps ids made in the same millisecond in order, then 62 random bits. Ids therefore
 * sort by creation time within one process, and stores index them as densely as a sequence.
 */
public final class Ids {
  /** Owner: this atomic. Millisecond timestamp in the high bits, counter in the low 12 bits. */
  private static final AtomicLong LAST = new AtomicLong();

  private Ids() {}

  /** Returns a new time-ordered UUID, greater than every one this class returned before. */
  public static UUID next() {
    long now = System.currentTimeMillis() << 12;
    long stamp = LAST.updateAndGet(last -> Math.max(last + 1, now));
    long millis = stamp >>> 12;
    long counter = stamp & 0xFFFL;
    long msb = (millis << 16) | 0x7000L | counter;
    long lsb = (ThreadLocalRandom.current().nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
    return new UUID(msb, lsb);
  }
}
