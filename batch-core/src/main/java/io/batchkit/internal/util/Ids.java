package io.batchkit.internal.util;

import java.util.Comparator;
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

  /** The variant bits of RFC 9562 UUIDs, {@code 10} at the top of the low half. */
  private static final long VARIANT = 0x8000000000000000L;

  private Ids() {}

  /**
   * The order the stores sort ids in: as unsigned 128-bit numbers, which is how PostgreSQL and H2
   * order a {@code uuid} and MySQL the text of one. {@link UUID#compareTo} compares the halves as
   * signed numbers, so it puts an id whose top bit is set first; a store that locks rows in id
   * order over several statements must follow this order to keep one order with single statements.
   * Like {@link UUID#compareTo}, it throws {@link NullPointerException} for a null id.
   */
  public static final Comparator<UUID> STORE_ORDER =
      (x, y) -> {
        int high = Long.compareUnsigned(x.getMostSignificantBits(), y.getMostSignificantBits());
        return high != 0
            ? high
            : Long.compareUnsigned(x.getLeastSignificantBits(), y.getLeastSignificantBits());
      };

  /** Returns a new time-ordered UUID, greater than every one this class returned before. */
  public static UUID next() {
    long lsb = (ThreadLocalRandom.current().nextLong() & 0x3FFFFFFFFFFFFFFFL) | VARIANT;
    return new UUID(nextHigh(), lsb);
  }

  /**
   * Returns the first of {@code n} new time-ordered UUIDs that differ only in their low half, which
   * counts up by one from it (the "monotonic random" method of RFC 9562: the random bits of ids
   * made at once are a counter from a random start). All {@code n} are greater than every id this
   * class returned before and less than every one it returns after. Stores find such a run of ids
   * by arithmetic instead of keeping an index entry per id.
   *
   * @throws IllegalArgumentException if {@code n} is not positive
   */
  public static UUID nextRun(int n) {
    Checks.positive(n, "n");
    // a random start below 2^61, so that adding n < 2^31 never reaches the variant bits
    long lsb = (ThreadLocalRandom.current().nextLong() & 0x1FFFFFFFFFFFFFFFL) | VARIANT;
    return new UUID(nextHigh(), lsb);
  }

  /** The version 7 high half: the millisecond, the version and the counter. */
  private static long nextHigh() {
    long now = System.currentTimeMillis() << 12;
    long stamp = LAST.updateAndGet(last -> Math.max(last + 1, now));
    long millis = stamp >>> 12;
    long counter = stamp & 0xFFFL;
    return (millis << 16) | 0x7000L | counter;
  }
}
