package io.batchkit.internal.scheduler;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How many jobs of each job type a service fetches ahead (see {@code ClaimRequest} and {@code
 * BatchService.Builder.claimAhead}): about {@link #TARGET_NANOS} of work for the slots it holds of
 * batches of the type (fetched jobs start only in those), at the measured length of the type's
 * jobs, at most {@link #MAX_DEPTH}, and none until one of the type's jobs has ended, so that a type
 * whose jobs are long (or not known yet) is never held back on one node while others wait idle, and
 * the jobs left to one node at a batch's end are about that much work. A fixed {@code claimAhead}
 * replaces the measure; so does 0 on the in-memory store, where workers claim their next jobs
 * themselves ({@link JobRunner}).
 *
 * <p>Ownership: workers record each attempt's length ({@link #record}); whoever plans a fetch (the
 * dispatcher, or the {@link Fetcher}) reads ({@link #depth}), and workers read when to ask for more
 * ({@link #refillBelow}). The mean per type is an atomic value that each record moves one eighth of
 * the way to the new length; a record racing others may overwrite their steps, and the mean stays
 * among recent lengths all the same. The dispatcher holds a type ({@link #hold}); the next record
 * of the type ends the hold.
 */
final class FetchAhead {
  /** How much work a node holds fetched ahead, over the slots it holds. */
  static final long TARGET_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  /** The most jobs of one type a node fetches ahead. */
  static final int MAX_DEPTH = 500;

  /** The fixed depth ({@code claimAhead}), or -1 to measure. */
  private final int fixed;

  private final Map<String, AtomicLong> meanNanos = new ConcurrentHashMap<>();

  /** The types not fetched ahead for now ({@link #hold}): the dispatcher adds, workers remove. */
  private final Set<String> held = ConcurrentHashMap.newKeySet();

  FetchAhead(int fixed) {
    this.fixed = fixed;
  }

  /**
   * Returns the measured length of {@code jobType}'s attempts in nanoseconds, or 0 before one has
   * ended.
   */
  long meanNanos(String jobType) {
    AtomicLong mean = meanNanos.get(jobType);
    return mean == null ? 0 : mean.get();
  }

  /**
   * Stops fetching {@code jobType} ahead until one of its jobs here ends ({@link #record}): for the
   * dispatcher when it gives back jobs of the type that waited too long behind the running ones, so
   * that the next fetch does not take them straight back from the free slots they went back for.
   */
  void hold(String jobType) {
    held.add(jobType);
  }

  /**
   * Records how long an attempt of {@code jobType} took, and ends a {@link #hold} of the type; for
   * the worker that ran it.
   */
  void record(String jobType, long nanos) {
    if (!held.isEmpty()) {
      held.remove(jobType);
    }
    long sample = Math.max(1, nanos);
    AtomicLong mean = meanNanos.get(jobType);
    if (mean == null) {
      mean = meanNanos.computeIfAbsent(jobType, t -> new AtomicLong());
    }
    // a read and a write, not a compare-and-set loop that eight workers retry against each other:
    // a racing record may overwrite others' steps, but the mean stays among recent lengths
    long old = mean.get();
    long moved = old == 0 ? sample : old + (sample - old) / 8;
    if (moved != old) {
      mean.set(moved);
    }
  }

  /** Returns how many jobs of {@code jobType} to hold fetched ahead for {@code slots} slots. */
  int depth(String jobType, int slots) {
    if (!held.isEmpty() && held.contains(jobType)) {
      return 0;
    }
    if (fixed >= 0) {
      return fixed;
    }
    AtomicLong mean = meanNanos.get(jobType);
    long nanos = mean == null ? 0 : mean.get();
    if (nanos == 0) {
      return 0;
    }
    return (int) Math.min(MAX_DEPTH, TARGET_NANOS * slots / nanos);
  }

  /**
   * Returns the count of a batch's jobs fetched ahead at or below which a worker that took one asks
   * for more ({@link NodeState#askRefill}): half the depth.
   */
  int refillBelow(String jobType, int slots) {
    return depth(jobType, slots) / 2;
  }
}
