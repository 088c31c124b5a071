package io.batchkit.internal.scheduler;

import java.time.Clock;
import java.time.Instant;

/**
 * A worker's reading of the service clock for the store calls it makes itself (recording its job's
 * outcome and claiming its next job): the instant it last read, again while the clock is in the
 * same millisecond. A busy worker's jobs then share one {@code Instant} per millisecond: the
 * in-memory store keeps each finished job's times, and with an {@code Instant} per job a million
 * no-op jobs kept a million of them (24 MB; RESULTS.md, issue 10 step 20).
 *
 * <p>A time it gives is its first reading in that millisecond, so up to a millisecond early. A job
 * it claims starts at the time it gives, and ends at that time or a later one, so its times stay in
 * order; a job claimed by another thread (fetched ahead) may have started later within the
 * millisecond, so the worker {@link #forget}s its reading when it takes one. The time of a store
 * step may still fall up to a millisecond before that of a step another thread made just before it:
 * a job may show a start before its batch was made or started, a batch a last change or an end
 * before its last job's end, by less than a millisecond (as the time of a step whose clock was read
 * just before another thread's step always could, by less). Confined to its worker's thread.
 */
final class WorkerClock {
  private final Clock clock;
  private Instant last;

  WorkerClock(Clock clock) {
    this.clock = clock;
  }

  /** Returns the time for the worker's next store call: its last reading, or a new one. */
  Instant now() {
    Instant read = last;
    if (read == null || clock.millis() != read.toEpochMilli()) {
      read = clock.instant();
      last = read;
    }
    return read;
  }

  /** Makes the next {@link #now} read the clock. */
  void forget() {
    last = null;
  }
}
