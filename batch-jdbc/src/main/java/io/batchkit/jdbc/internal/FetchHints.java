package io.batchkit.jdbc.internal;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Where a node's next fetch of a batch begins in the batch's queue, on PostgreSQL ({@link
 * PostgresSteps#fetch}).
 *
 * <p>Why: a fetch takes a batch's first queued jobs in seq order from the status index. The index
 * entries of jobs that left the queue stay there until no open snapshot can see the rows they point
 * to any more, and on several busy nodes the statements of the last tens of milliseconds hold such
 * snapshots: every fetch from the head of the queue read the entries of every job fetched in that
 * time again (12 to 19 entries per job on 3 nodes, against 4 to 5 on 1; see {@code
 * benchmarks/RESULTS.md}, issue 10 steps 12 and 13). So a node remembers, per batch, the seq just
 * past the last job its last fetch took, and its next fetch starts there: every queued job before
 * it was, as that fetch saw the table, taken by it, held by another step or not due yet.
 *
 * <p>Jobs start in seq order, except one that becomes runnable before a hint. A job can come back
 * before a hint (a retry, a released job, a lease taken back, {@code retryFailed}, {@code
 * retryJobs}) or fall due before it (a retry whose time comes, a job a step held and then rolled
 * back), so a hint is used only while all of this holds:
 *
 * <ul>
 *   <li>no work was announced since the hint's fetch began ({@link #invalidate}): every step that
 *       queues a job again announces work, this store's own after their commit and other nodes'
 *       through {@code NOTIFY}, which the store's listener passes on while it listens (it runs
 *       while a service is subscribed, and voids every hint whenever it starts listening, after a
 *       lost connection too); and every rollback of a transaction of this store voids them as well,
 *       right after it ({@link Transactions}), as a fetch in it may have left a hint past jobs it
 *       gave back;
 *   <li>the last fetch from the head of the queue, whose hint the later ones carry on, was less
 *       than {@link #LIFETIME} ago by the claims' clock: a retry that falls due, or a job that a
 *       step held and rolled back, waits at most that long behind jobs after it;
 *   <li>the fetch from the hint finds as many jobs as it wants: else the caller fetches the rest
 *       from the head at once, so that no job is passed over at a batch's end.
 * </ul>
 *
 * <p>The epoch is read before the fetch's statement and moved on after the announcing step
 * committed, so a hint stays valid only if its fetch's snapshot saw the jobs queued again: that
 * assumes each statement reads a snapshot of its own (READ COMMITTED, PostgreSQL's default). On a
 * pool set to a stricter isolation an announcement may not void a hint that missed its jobs, and
 * then the lifetime bounds the wait; with a clock that stands still the lifetime bounds nothing,
 * and only the other two rules void a hint.
 *
 * <p>Ownership: any thread; the hints are a concurrent map, and a hint is a value replaced whole.
 * Two fetches of one batch by one node racing each other each leave a hint true for its own fetch.
 */
final class FetchHints {
  /** How long a hint lasts after the fetch from the head of the queue it descends from. */
  static final Duration LIFETIME = Duration.ofMillis(100);

  /** Hints kept at most: more (a node fetching from very many batches) starts afresh. */
  private static final int MAX_HINTS = 10_000;

  /** Moved on by every announcement of work: a hint made before is void. */
  private final AtomicLong epoch = new AtomicLong();

  private final Map<Key, Hint> hints = new ConcurrentHashMap<>();

  private record Key(String nodeId, UUID batchId) {}

  /**
   * Where a fetch may start: before {@code seq}, no job was due and free when the fetch that made
   * it ran, but those it took.
   *
   * @param seq the seq to start from
   * @param epoch the {@link #epoch()} read before the fetch that made it began
   * @param scannedAt the claims' time of the last fetch from the head of the queue it descends from
   */
  record Hint(long seq, long epoch, Instant scannedAt) {
    Hint {
      if (seq < 0) {
        throw new IllegalArgumentException("seq must not be negative, was " + seq);
      }
      Objects.requireNonNull(scannedAt, "scannedAt");
    }
  }

  /** The epoch to give {@link #record}: read it before the fetch's statement. */
  long epoch() {
    return epoch.get();
  }

  /** Returns the hint of {@code nodeId}'s next fetch of {@code batchId} at {@code now}, or null. */
  Hint current(String nodeId, UUID batchId, Instant now) {
    Hint hint = hints.get(new Key(nodeId, batchId));
    if (hint == null
        || hint.epoch() != epoch.get()
        || now.isBefore(hint.scannedAt())
        || !now.isBefore(hint.scannedAt().plus(LIFETIME))) {
      return null;
    }
    return hint;
  }

  /**
   * Records where {@code nodeId}'s next fetch of {@code batchId} may start: at {@code pastTaken},
   * the seq just past the last job a fetch that began at {@code epoch} took.
   *
   * @param scannedAt the claims' time of that fetch if it read from the head of the queue, else the
   *     {@link Hint#scannedAt} of the hint it started from
   */
  void record(String nodeId, UUID batchId, long pastTaken, long epoch, Instant scannedAt) {
    if (hints.size() >= MAX_HINTS) {
      hints.clear();
    }
    hints.put(new Key(nodeId, batchId), new Hint(pastTaken, epoch, scannedAt));
  }

  /** Forgets the hint of {@code nodeId}'s fetches of {@code batchId}: the next reads the head. */
  void forget(String nodeId, UUID batchId) {
    hints.remove(new Key(nodeId, batchId));
  }

  /** Work was announced (jobs may have come back): every hint made before is void. */
  void invalidate() {
    epoch.incrementAndGet();
  }
}
