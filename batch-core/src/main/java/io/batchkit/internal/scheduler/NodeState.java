package io.batchkit.internal.scheduler;

import io.batchkit.BatchId;
import io.batchkit.JobId;
import io.batchkit.spi.JobOutcome;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The mutable state of one service that more than one of its parts ({@link Dispatcher}, {@link
 * JobRunner}, {@link LeaseKeeper}, {@link TimeoutWatch}, {@link DefaultBatchService}) reads or
 * writes: a class of its own so that each shared field is declared once, with who may write it.
 * State that one part alone uses lives in that part.
 *
 * <h2>Ownership</h2>
 *
 * <ul>
 *   <li>The <b>store</b> owns all job and batch state; the service keeps no copy that could
 *       disagree with it, except the immutable settings of batches ({@link BatchSettings},
 *       forgotten on delete).
 *   <li>The <b>dispatcher thread</b> owns the fields of {@link Dispatcher}: outcomes it has not
 *       sent yet, the rate-limit permits it has banked ({@link ClaimPlan}), its timers, and the
 *       earliest retry time. It claims for free slots, fetches ahead ({@link FetchAhead}) unless a
 *       {@link Fetcher} does, renews leases, takes back expired ones, enforces timeouts and records
 *       the outcomes queued in {@link #outcomes}. Here it alone writes {@link #inOutage}, {@link
 *       #dispatcherAsleep} and {@link #sleepUntilNanos}.
 *   <li>On a store that fetches aside ({@code JobStore.fetchesAside}), the <b>fetcher thread</b>
 *       ({@link Fetcher}) fetches ahead instead of the dispatcher: it alone then adds to the jobs
 *       fetched ahead and ends pending refills.
 *   <li>A <b>worker thread</b> owns one slot of the node, and one of its job's batch, while it
 *       runs. When its job ends it takes its next job, keeping both: first one of the same batch
 *       fetched ahead ({@link #pollReady(BatchId)}, waiting for a pending refill); else, on the
 *       in-memory store only, one it claims itself (see {@link JobRunner}), after recording the
 *       outcome itself. Otherwise it queues the outcome in {@link #outcomes}, a lock-free queue,
 *       gives both slots back ({@link #releaseSlot}) and wakes the dispatcher. It also gives the
 *       slot back when the dispatcher asks for one ({@link #slotWanted}) for a rate-limited type.
 *   <li>{@link #running} (job id to {@link RunningJob}) and {@link #runningCount} are shared.
 *       Whoever claims a job adds it to {@code running}; whoever ends it removes it (by id and
 *       instance): the worker that ran it, the dispatcher or {@code close()} giving up on it, or,
 *       for a job fetched ahead and never started, the caller of {@code cancelBatch}, whoever
 *       queued it as it was cancelled ({@link JobRunner#queueFetched}), the dispatcher or {@code
 *       close()}. {@code runningCount} is the number of slots taken and never exceeds {@code
 *       maxConcurrency}: only the dispatcher increments it, up to the free slots it computed; a
 *       worker that takes its next job keeps the slot it had; jobs fetched ahead hold no slot until
 *       started.
 *   <li>{@link #state} is written by {@code close()} only; everyone reads it.
 * </ul>
 */
final class NodeState {
  /** The life of a service. */
  enum State {
    RUNNING,
    CLOSING,
    CLOSED
  }

  final AtomicReference<State> state = new AtomicReference<>(State.RUNNING);
  final Map<JobId, RunningJob> running = new ConcurrentHashMap<>();
  final AtomicInteger runningCount = new AtomicInteger();

  /** Outcomes for the dispatcher to record; any thread adds, the dispatcher takes. */
  final ConcurrentLinkedQueue<JobOutcome> outcomes = new ConcurrentLinkedQueue<>();

  /**
   * Jobs fetched ahead, not started, per batch in claim order (see {@link FetchAhead}); each is in
   * {@link #running} too, so its lease is renewed, but holds no slot. Whoever fetches adds (the
   * {@link Fetcher} if there is one, else the dispatcher); a worker passing its slot on, a
   * cancellation, a lost lease, the dispatcher giving back jobs whose batch this node runs no job
   * of or that waited too long for a slot, or shutdown removes (whoever removes a job owns it).
   */
  private final Map<BatchId, Fetched> fetched = new ConcurrentHashMap<>();

  /** Where workers wait for a pending refill ({@link #awaitReady}). */
  private final ReentrantLock refillLock = new ReentrantLock();

  private final Condition refilled = refillLock.newCondition();

  /** The number of jobs in {@link #fetched}, kept beside it. */
  private final AtomicInteger fetchedCount = new AtomicInteger();

  /** One batch's jobs fetched ahead, with their count (a queue's own {@code size()} walks it). */
  private static final class Fetched {
    final String jobType;
    final ConcurrentLinkedQueue<RunningJob> queue = new ConcurrentLinkedQueue<>();
    final AtomicInteger count = new AtomicInteger();

    /**
     * Since when (System.nanoTime) the queue's jobs have waited with none of them taken: set when a
     * job joins an empty queue and whenever one is taken ({@link #readyUntakenNanos}).
     */
    volatile long untakenSinceNanos;

    /**
     * Set by a worker that asked for more; cleared by whoever fetches (the {@link Fetcher}, or the
     * dispatcher with its next claim) once its fetch is done ({@link #refillsDone}).
     */
    final AtomicBoolean refillPending = new AtomicBoolean();

    Fetched(String jobType) {
      this.jobType = jobType;
    }
  }

  /**
   * The slots of each batch this node holds, with the batch's job type: one per running job of the
   * batch (a finished job's slot passes to a job of its batch fetched ahead, or goes back). Whoever
   * starts a job with a slot the store granted takes it ({@link #takeSlot}); whoever ends the last
   * job that held it releases it ({@link #releaseSlot}). Only for this node's own view (which
   * batches it may still start fetched jobs of): the store counts slots from the outcomes.
   */
  private final Map<BatchId, Held> slots = new ConcurrentHashMap<>();

  /** One batch's slots on this node, and its job type. */
  private record Held(String jobType, int count) {}

  /**
   * The slots of {@link #slots} summed per job type, kept beside it by the same two methods, so
   * that a worker reads its type's count without walking the map: equal to the sum whenever no
   * {@code takeSlot} or {@code releaseSlot} is half-way.
   */
  private final Map<String, AtomicInteger> slotsPerType = new ConcurrentHashMap<>();

  /**
   * Set by the dispatcher when a rate-limited type has a permit but no slot is free (workers keep
   * their slots while they find work); the next worker to finish clears it and gives its slot back.
   */
  final AtomicBoolean slotWanted = new AtomicBoolean();

  /** Where the dispatcher sleeps; anyone wakes it. */
  final Waiter waiter = new Waiter();

  /**
   * Where the {@link Fetcher} sleeps, on a store that fetches aside; a worker asking for a refill
   * ({@link #askRefill}) and the dispatcher wake it.
   */
  final Waiter refills = new Waiter();

  /**
   * Set by a processor's thread when a running job reports progress ({@link #progressReported}),
   * cleared by the dispatcher when it collects the reports to store with a lease renewal.
   */
  final AtomicBoolean progressPending = new AtomicBoolean();

  /**
   * Notes that a job reported progress. It does not wake the dispatcher (a wake-up means "claim
   * now" and would undo its idle backoff): the dispatcher's loop runs at least every half second
   * for {@link NodeWatch}'s check of dead nodes (and every second for scheduled starts), and then
   * renews with the reports once a second has passed since its last renewal.
   */
  void progressReported() {
    if (!progressPending.get()) {
      progressPending.set(true);
    }
  }

  /**
   * Written by the dispatcher only: whether it is asleep, and until when (System.nanoTime). A
   * worker that starts a job due to time out before then wakes it. {@code sleepUntilNanos} is
   * written before {@code dispatcherAsleep} is set.
   */
  volatile boolean dispatcherAsleep;

  volatile long sleepUntilNanos;

  /** Written by the dispatcher only: whether the store is failing (workers then leave it alone). */
  volatile boolean inOutage;

  /**
   * Adds a job fetched ahead to the end of its batch's queue; for whoever fetches (the {@link
   * Fetcher} if there is one, else the dispatcher), the one thread that adds.
   */
  void addReady(RunningJob job) {
    Fetched of = fetched.get(job.claim.batchId()); // a lookup first: no lambda made per job
    if (of == null) {
      of = fetched.computeIfAbsent(job.claim.batchId(), id -> new Fetched(job.batch.jobType()));
    }
    if (of.count.get() == 0) {
      // the first to wait: its wait starts now, written before anyone can see the job counted (a
      // job taken meanwhile sets the time as well)
      of.untakenSinceNanos = System.nanoTime();
    }
    of.queue.add(job);
    of.count.incrementAndGet();
    fetchedCount.incrementAndGet();
  }

  /**
   * Takes the first job of {@code batchId} fetched ahead, or returns null; the caller owns the job
   * it gets.
   */
  RunningJob pollReady(BatchId batchId) {
    Fetched of = fetched.get(batchId);
    RunningJob job = of == null ? null : of.queue.poll();
    if (job != null) {
      of.untakenSinceNanos = System.nanoTime();
      of.count.decrementAndGet();
      fetchedCount.decrementAndGet();
    }
    return job;
  }

  /**
   * Returns the first job of {@code batchId} fetched ahead, without taking it, or null; the caller
   * owns it only once it removes it ({@link #removeReady}).
   */
  RunningJob peekReady(BatchId batchId) {
    Fetched of = fetched.get(batchId);
    return of == null ? null : of.queue.peek();
  }

  /** Takes the first job fetched ahead of any batch, or returns null (for shutdown). */
  RunningJob pollReady() {
    for (BatchId id : fetched.keySet()) {
      RunningJob job = pollReady(id);
      if (job != null) {
        return job;
      }
    }
    return null;
  }

  /**
   * Takes {@code job} out of the jobs fetched ahead; returns true if it was there (the caller owns
   * it).
   */
  boolean removeReady(RunningJob job) {
    Fetched of = fetched.get(job.claim.batchId());
    if (of != null && of.queue.remove(job)) {
      of.count.decrementAndGet();
      fetchedCount.decrementAndGet();
      return true;
    }
    return false;
  }

  /**
   * Returns how long the jobs of {@code batchId} fetched ahead have waited with none of them taken
   * (since one was last taken, or since the first joined the empty queue), or 0 if none waits.
   */
  long readyUntakenNanos(BatchId batchId) {
    Fetched of = fetched.get(batchId);
    return of == null || of.count.get() == 0 ? 0 : System.nanoTime() - of.untakenSinceNanos;
  }

  /** Returns how many jobs fetched ahead wait, over all batches. */
  int readyCount() {
    return fetchedCount.get();
  }

  /** Returns how many jobs of {@code batchId} fetched ahead wait. */
  int readyCount(BatchId batchId) {
    Fetched of = fetched.get(batchId);
    return of == null ? 0 : of.count.get();
  }

  /** Returns how many jobs of each job type fetched ahead wait (types with none may be absent). */
  Map<String, Integer> readyPerType() {
    Map<String, Integer> perType = new HashMap<>();
    fetched.values().forEach(of -> perType.merge(of.jobType, of.count.get(), Integer::sum));
    return perType;
  }

  /** The batches with jobs fetched ahead (possibly a few without any left). */
  Set<BatchId> batchesFetched() {
    return fetched.keySet();
  }

  /** Takes a slot of {@code batchId} the store granted, for a job that starts in it. */
  void takeSlot(BatchId batchId, String jobType) {
    slots.merge(
        batchId, new Held(jobType, 1), (held, one) -> new Held(held.jobType, held.count + 1));
    slotsPerType.computeIfAbsent(jobType, type -> new AtomicInteger()).incrementAndGet();
  }

  /**
   * Gives a slot of {@code batchId} back here; the store hears of it with the outcome of the job
   * that held it.
   */
  void releaseSlot(BatchId batchId) {
    Held[] released = new Held[1];
    slots.computeIfPresent(
        batchId,
        (id, held) -> {
          released[0] = held;
          return held.count <= 1 ? null : new Held(held.jobType, held.count - 1);
        });
    if (released[0] != null) {
      slotsPerType.get(released[0].jobType).decrementAndGet();
    }
  }

  /** Returns how many slots of batches of {@code jobType} this node holds. */
  int slotsOfType(String jobType) {
    AtomicInteger n = slotsPerType.get(jobType);
    return n == null ? 0 : n.get();
  }

  /** Returns how many slots of {@code batchId} this node holds. */
  int slotsOf(BatchId batchId) {
    Held held = slots.get(batchId);
    return held == null ? 0 : held.count;
  }

  /** Returns the job types of the batches this node holds slots of. */
  Set<String> slotTypes() {
    Set<String> types = new HashSet<>();
    slots.values().forEach(held -> types.add(held.jobType));
    return types;
  }

  /**
   * Asks for more jobs of {@code batchId} to be fetched: marks a refill pending, so that a worker
   * that finds none left waits for the next fetch rather than giving its slot back. The caller
   * wakes the dispatcher, and the {@link Fetcher} ({@link #refills}) if there is one.
   */
  void askRefill(BatchId batchId) {
    Fetched of = fetched.get(batchId);
    if (of != null) {
      of.refillPending.set(true);
    }
  }

  /**
   * Takes the first job of {@code batchId} fetched ahead, waiting up to {@code maxNanos} while a
   * refill is pending; returns null if none came.
   */
  RunningJob awaitReady(BatchId batchId, long maxNanos) throws InterruptedException {
    RunningJob ready = pollReady(batchId);
    Fetched pending = fetched.get(batchId);
    if (ready != null || pending == null || !pending.refillPending.get()) {
      // none to wait for: no lock and no clock (a worker with no job fetched ahead comes here
      // after each job it ran)
      return ready;
    }
    long deadline = System.nanoTime() + maxNanos;
    refillLock.lock();
    try {
      RunningJob job;
      while ((job = pollReady(batchId)) == null) {
        Fetched of = fetched.get(batchId);
        long left = deadline - System.nanoTime();
        if (of == null || !of.refillPending.get() || left <= 0) {
          return null;
        }
        refilled.awaitNanos(left);
      }
      return job;
    } finally {
      refillLock.unlock();
    }
  }

  /**
   * Ends every pending refill after a fetch (which may have brought none); wakes the waiters. For
   * whoever fetches: the {@link Fetcher} if there is one, else the dispatcher.
   */
  void refillsDone() {
    fetched.values().forEach(of -> of.refillPending.set(false));
    refillLock.lock();
    try {
      refilled.signalAll();
    } finally {
      refillLock.unlock();
    }
  }

  /**
   * Forgets the batches none of whose jobs fetched ahead waits; for the one thread that adds (a
   * worker holding a forgotten batch's empty queue finds nothing in it).
   */
  void forgetEmptyFetches() {
    fetched.values().removeIf(of -> of.count.get() == 0);
  }
}
