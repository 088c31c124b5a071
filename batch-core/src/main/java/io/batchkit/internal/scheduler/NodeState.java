package io.batchkit.internal.scheduler;

import io.batchkit.JobId;
import io.batchkit.spi.JobOutcome;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

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
 *       disagree with it, except the immutable settings of batches in {@link JobRunner}'s cache
 *       (invalidated on delete).
 *   <li>The <b>dispatcher thread</b> owns the fields of {@link Dispatcher}: outcomes it has not
 *       sent yet, the rate-limit permits it has banked, its timers, and the earliest retry time. It
 *       claims for free slots and ahead ({@code claimAhead}), renews leases, takes back expired
 *       ones, enforces timeouts and records the outcomes queued in {@link #outcomes}. Here it alone
 *       writes {@link #inOutage}, {@link #dispatcherAsleep} and {@link #sleepUntilNanos}.
 *   <li>A <b>worker thread</b> owns one slot while it runs. When its job ends it takes its next
 *       job, keeping the slot: first one claimed ahead from the ready queue ({@link #pollReady});
 *       else, on the in-memory store only, one it claims itself (see {@link JobRunner}), after
 *       recording the outcome itself. Otherwise it queues the outcome in {@link #outcomes}, a
 *       lock-free queue, gives the slot back and wakes the dispatcher. It also gives the slot back
 *       when the dispatcher asks for one ({@link #slotWanted}) for a rate-limited type.
 *   <li>{@link #running} (job id to {@link RunningJob}) and {@link #runningCount} are shared.
 *       Whoever claims a job adds it to {@code running}; whoever ends it removes it (by id and
 *       instance): the worker that ran it, the dispatcher or {@code close()} giving up on it, or,
 *       for a job claimed ahead and never started, the caller of {@code cancelBatch}, the
 *       dispatcher or {@code close()}. {@code runningCount} is the number of slots taken and never
 *       exceeds {@code maxConcurrency}: only the dispatcher increments it, up to the free slots it
 *       computed; a worker that takes its next job keeps the slot it had; jobs claimed ahead hold
 *       no slot until started.
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
   * Jobs claimed ahead ({@code claimAhead}), not started, in claim order; each is in {@link
   * #running} too, so its lease is renewed, but holds no slot. The dispatcher adds, and takes jobs
   * for free slots; a worker taking its next job, a cancellation, a lost lease or shutdown removes
   * (whoever removes a job owns it).
   */
  private final ConcurrentLinkedQueue<RunningJob> ready = new ConcurrentLinkedQueue<>();

  /** The size of {@link #ready} (its own {@code size()} walks the queue), kept beside it. */
  private final AtomicInteger readyCount = new AtomicInteger();

  /**
   * Set by the dispatcher when a rate-limited type has a permit but no slot is free (workers keep
   * their slots while they find work); the next worker to finish clears it and gives its slot back.
   */
  final AtomicBoolean slotWanted = new AtomicBoolean();

  /** Where the dispatcher sleeps; anyone wakes it. */
  final Waiter waiter = new Waiter();

  /**
   * Written by the dispatcher only: whether it is asleep, and until when (System.nanoTime). A
   * worker that starts a job due to time out before then wakes it. {@code sleepUntilNanos} is
   * written before {@code dispatcherAsleep} is set.
   */
  volatile boolean dispatcherAsleep;

  volatile long sleepUntilNanos;

  /** Written by the dispatcher only: whether the store is failing (workers then leave it alone). */
  volatile boolean inOutage;

  /** Adds a job claimed ahead to the end of the ready queue; for the dispatcher. */
  void addReady(RunningJob job) {
    ready.add(job);
    readyCount.incrementAndGet();
  }

  /** Takes the first job claimed ahead, or returns null; the caller owns the job it gets. */
  RunningJob pollReady() {
    RunningJob job = ready.poll();
    if (job != null) {
      readyCount.decrementAndGet();
    }
    return job;
  }

  /**
   * Takes {@code job} out of the ready queue; returns true if it was there (the caller owns it).
   */
  boolean removeReady(RunningJob job) {
    if (ready.remove(job)) {
      readyCount.decrementAndGet();
      return true;
    }
    return false;
  }

  /** Returns how many jobs claimed ahead wait in the ready queue. */
  int readyCount() {
    return readyCount.get();
  }
}
