package io.batchkit.internal.memory;

import io.batchkit.JobStatus;
import io.batchkit.internal.util.Checks;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.SharedRateLimit;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where the {@link InMemoryJobStore}'s claims are made: the order batches are served in, the slots
 * a claim takes of each batch, the shared rate limits' token buckets, the jobs fetched ahead
 * without slots, and the lease each claimed job gets (its fencing token).
 *
 * <p>Ownership: the buckets and counters here, like the {@link InMemoryState} it changes, are
 * guarded by the state's lock; {@link #claim} takes it, {@link #claimLocked} is for a step that
 * holds it.
 */
final class InMemoryClaims {
  /** The most {@link #take} makes room for at once: a request's limits may be far larger. */
  private static final int MAX_PRESIZE = 4096;

  private final InMemoryState shared;
  private final ReentrantLock lock;
  private final Set<BatchState> runnable;
  private final ProcessingJobs processing;

  /** The token buckets of rate limits held for all nodes, by key (see {@link SharedRateLimit}). */
  private final Map<String, Bucket> buckets = new HashMap<>();

  /** A token bucket: its tokens as of {@code at}. */
  private record Bucket(double tokens, Instant at) {}

  /** The last fencing token given. */
  private long lastToken;

  /** Counts serves, so that batches served in the same millisecond still take turns. */
  private long lastServe;

  InMemoryClaims(InMemoryState shared) {
    this.shared = shared;
    this.lock = shared.lock;
    this.runnable = shared.runnable;
    this.processing = shared.processing;
  }

  /** What {@link JobStore#claim} says; takes the lock. */
  List<ClaimedJob> claim(ClaimRequest request) {
    Checks.notNull(request, "request");
    lock.lock();
    try {
      return claimLocked(request);
    } finally {
      lock.unlock();
    }
  }

  List<ClaimedJob> claimLocked(ClaimRequest request) {
    if (runnable.isEmpty()) {
      return List.of();
    }
    ArrayList<ClaimedJob> claimed = new ArrayList<>(Math.min(request.maxJobs(), 64));
    if (runnable.size() == 1) {
      // one batch to serve (a worker's claim of its next job, most often): no order to sort and no
      // counts per type to keep
      BatchState state = runnable.iterator().next();
      if (request.maxJobs() > 0) {
        serve(state, request.maxJobs(), request.limitFor(state.batch.jobType()), request, claimed);
      }
    } else {
      List<BatchState> order = new ArrayList<>(runnable);
      order.sort(
          Comparator.<BatchState>comparingLong(
                  b -> request.dispatchKey(b.priority(), b.lastServedAt))
              .thenComparingLong(b -> b.servedSeq)
              .thenComparing(b -> b.batch.id()));
      Map<String, Integer> takenPerType = new HashMap<>();
      for (BatchState state : order) {
        int room = request.maxJobs() - claimed.size();
        if (room == 0) {
          break;
        }
        String type = state.batch.jobType();
        int typeRoom = request.limitFor(type) - takenPerType.getOrDefault(type, 0);
        int got = serve(state, room, typeRoom, request, claimed);
        takenPerType.merge(type, got, Integer::sum);
      }
    }
    BatchState only = onlyCandidate(request);
    if (only != null && only.slotsOf(request.nodeId()) > 0) {
      take(only, request.fetchAheadFor(only.batch.jobType()), false, request, claimed);
    }
    return claimed;
  }

  /**
   * Leases up to {@code room} due jobs of {@code state} for free slots, no more than {@code
   * typeRoom}, the batch's free slots and its type's shared rate limit allow, and grants their
   * slots. Returns how many it leased.
   */
  private int serve(
      BatchState state,
      int room,
      int typeRoom,
      ClaimRequest request,
      ArrayList<ClaimedJob> claimed) {
    String type = state.batch.jobType();
    int batchRoom = state.batch.maxConcurrency() - state.slotsHeld;
    int want = Math.min(room, Math.min(typeRoom, batchRoom));
    SharedRateLimit limit = request.sharedRateLimits().get(type);
    String key = null;
    double tokens = 0;
    if (limit != null && want > 0) {
      key = limit.bucketKey(type, state.batch.metadata());
      Bucket bucket = buckets.get(key);
      tokens =
          bucket == null
              ? limit.refill(-1, 0)
              : limit.refill(
                  bucket.tokens(), Duration.between(bucket.at(), request.now()).toNanos());
      want = Math.min(want, (int) Math.floor(tokens));
    }
    int got = take(state, want, true, request, claimed);
    if (key != null) {
      Bucket old = buckets.get(key);
      // a stamp never moves back (see RateBuckets in batch-jdbc): skewed clocks add no refill
      Instant at = old != null && old.at().isAfter(request.now()) ? old.at() : request.now();
      buckets.put(key, new Bucket(tokens - got, at));
    }
    state.grantSlots(request.nodeId(), got);
    return got;
  }

  /**
   * Returns the one runnable batch of the request's job types if there is exactly one and the
   * request may fetch its type ahead; else null.
   */
  private BatchState onlyCandidate(ClaimRequest request) {
    if (request.fetchAhead().isEmpty()) {
      return null;
    }
    BatchState only = null;
    for (BatchState state : runnable) {
      String type = state.batch.jobType();
      if (request.jobTypes().containsKey(type) || request.fetchAhead().containsKey(type)) {
        if (only != null) {
          return null;
        }
        only = state;
      }
    }
    return only != null && request.fetchAheadFor(only.batch.jobType()) > 0 ? only : null;
  }

  /**
   * Leases up to {@code want} due jobs of {@code state} in order and adds them to {@code claimed};
   * marks the batch served if it gave any. Returns how many it leased.
   */
  private int take(
      BatchState state,
      int want,
      boolean slot,
      ClaimRequest request,
      ArrayList<ClaimedJob> claimed) {
    // room for what it may take at once, not grown step by step (a fetch ahead may bring hundreds)
    long queued = state.counts[JobStatus.QUEUED.ordinal()];
    claimed.ensureCapacity(claimed.size() + (int) Math.min(Math.min(want, queued), MAX_PRESIZE));
    int got = 0;
    while (got < want) {
      JobState job = state.nextDue(request.now());
      if (job == null) {
        break;
      }
      lease(job, request);
      claimed.add(
          new ClaimedJob(job.id(), state.batch.id(), job.payload, job.attempt, job.token, slot));
      got++;
    }
    if (got > 0) {
      state.lastServedAt = request.now();
      state.servedSeq = ++lastServe;
      state.updatedAt = request.now();
      if (state.counts[JobStatus.QUEUED.ordinal()] == 0) {
        runnable.remove(state);
      }
    }
    return got;
  }

  private void lease(JobState job, ClaimRequest request) {
    shared.forgetProgress(job);
    job.batch.move(JobStatus.QUEUED, JobStatus.PROCESSING);
    job.status = JobStatus.PROCESSING;
    job.attempt++;
    job.token = ++lastToken;
    job.owner = request.nodeId();
    job.due = request.leaseUntil();
    job.startedAt = request.now();
    job.updatedAt = request.now();
    job.error = null;
    processing.add(job);
  }
}
