package io.batchkit.internal.scheduler;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.JobContext;
import io.batchkit.JobId;
import io.batchkit.JobProgress;
import io.batchkit.internal.util.Checks;
import io.batchkit.spi.ClaimedJob;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * One claimed job on this node: the {@link JobContext} its processor sees, and the signals other
 * threads send it.
 *
 * <p>Ownership: {@code claim} and {@code batch} are fixed. {@code startedNanos} is written once, by
 * the thread that gives the job to a worker. {@code stop} is written by whoever stops the job (a
 * cancellation, a lost lease, shutdown, the dispatcher's timeout watch) and read by the worker;
 * {@code thread} is written by the worker only; {@code reported} is set by compare-and-set so that
 * exactly one party ends the job and hands on its outcome: the worker; the dispatcher or {@code
 * close()} giving up on a worker that ignores its interrupt; or, for a job fetched ahead and never
 * started, whoever takes it out of the service's queue to cancel or release it. {@code progress} is
 * written by the processor's thread and read by the dispatcher, which alone owns {@code
 * progressSent}.
 */
final class RunningJob implements JobContext {
  /** Why a job was told to stop before it ended by itself. */
  enum Stop {
    /** Its batch was cancelled or aborted: it ends CANCELLED. */
    CANCELLED,
    /** Its attempt ran past the batch's job timeout: it fails (or is retried). */
    TIMED_OUT,
    /** Another node owns it now: its outcome will be rejected. */
    LOST,
    /** This service is closing: the job goes back to the queue. */
    SHUTDOWN
  }

  final ClaimedJob claim;
  final Batch batch;
  private final Listeners listeners;
  private volatile Stop stop;

  /** Guarded by this. */
  private Thread thread;

  /** Whether a party claimed the report ({@link #claimReport}); set once, by {@link #REPORTED}. */
  private volatile boolean reported;

  /** Sets {@link #reported}: a field, not an {@code AtomicBoolean}, saves an object per job. */
  private static final VarHandle REPORTED;

  static {
    try {
      REPORTED = MethodHandles.lookup().findVarHandle(RunningJob.class, "reported", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /**
   * When the job was given to a worker (System.nanoTime), or 0 while it waits, fetched ahead;
   * written once, by the thread that gives it to a worker.
   */
  private volatile long startedNanos;

  /** When the job was first told to stop, or 0; written under this. */
  private volatile long stopRequestedNanos;

  /** The latest progress report, written by the processor's thread; null before the first. */
  private volatile JobProgress progress;

  /** The report last handed to the store; the dispatcher thread's only. */
  private JobProgress progressSent;

  private final Clock clock;
  private final NodeState node;

  /** When the claim's time was taken (System.nanoTime), which the store keeps as its start. */
  private final long claimedNanos;

  RunningJob(
      ClaimedJob claim,
      Batch batch,
      Listeners listeners,
      Clock clock,
      NodeState node,
      long claimedNanos) {
    this.claim = claim;
    this.claimedNanos = claimedNanos;
    this.batch = batch;
    this.listeners = listeners;
    this.clock = clock;
    this.node = node;
  }

  @Override
  public JobId jobId() {
    return claim.id();
  }

  @Override
  public BatchId batchId() {
    return claim.batchId();
  }

  @Override
  public String jobType() {
    return batch.jobType();
  }

  @Override
  public String payload() {
    return claim.payload();
  }

  @Override
  public int attempt() {
    return claim.attempt();
  }

  @Override
  public Map<String, String> batchMetadata() {
    return batch.metadata();
  }

  @Override
  public void reportProgress(double fraction, String message) {
    Checks.between(fraction, 0.0, 1.0, "fraction");
    progress = new JobProgress(fraction, Optional.ofNullable(message), clock.instant());
    node.progressReported();
    listeners.fire("jobProgress", claim.id(), l -> l.jobProgress(this, fraction, message));
  }

  @Override
  public boolean isCancelled() {
    return stop != null;
  }

  /**
   * Returns the latest progress report if the store has not had it yet, else null; for the
   * dispatcher thread, which hands it on with the next lease renewal and then calls {@link
   * #progressStored}.
   */
  JobProgress progressToStore() {
    JobProgress latest = progress;
    return latest == progressSent ? null : latest;
  }

  /** Notes that the store has {@code stored}; for the dispatcher thread. */
  void progressStored(JobProgress stored) {
    progressSent = stored;
  }

  Stop stopReason() {
    return stop;
  }

  /**
   * How long passed between the claim's time and the job's start (the claim's transaction, then any
   * wait in this node's queue); for a started job.
   */
  long waitedNanos() {
    return startedNanos - claimedNanos;
  }

  /** Marks the job as given to a worker: its timeout starts now. */
  void markStarted() {
    long now = System.nanoTime();
    startedNanos = now == 0 ? 1 : now;
  }

  boolean isStarted() {
    return startedNanos != 0;
  }

  /**
   * Whether the listeners were told this attempt started ({@code jobStarted}): only then are they
   * told how it ended without an outcome ({@code jobReleased}). Set by the worker thread after it
   * told them; read by whichever thread ends the attempt.
   */
  private volatile boolean announced;

  void announceStarted() {
    announced = true;
  }

  boolean wasAnnounced() {
    return announced;
  }

  /** Returns how long ago the job was given to a worker, in nanoseconds. */
  long nanosSinceStart() {
    return System.nanoTime() - startedNanos;
  }

  /**
   * Timeouts beyond this (about 73 years, e.g. a "no timeout" of Long.MAX_VALUE seconds) count as
   * this.
   */
  private static final long LONGEST_TIMEOUT_NANOS = Long.MAX_VALUE / 4;

  /** Returns when the attempt times out (System.nanoTime); only for a started job. */
  long deadlineNanos() {
    Duration timeout = batch.jobTimeout();
    long nanos =
        timeout.compareTo(Duration.ofNanos(LONGEST_TIMEOUT_NANOS)) >= 0
            ? LONGEST_TIMEOUT_NANOS
            : timeout.toNanos();
    return startedNanos + nanos;
  }

  /**
   * Returns when the job's slot is given back even if its thread has not returned: its timeout or
   * its stop request, plus the grace period (System.nanoTime).
   */
  long abandonAtNanos(long graceNanos) {
    long timedOut = deadlineNanos() + graceNanos;
    long stopped = stopRequestedNanos;
    return stopped == 0 ? timedOut : Math.min(timedOut, stopped + graceNanos);
  }

  /**
   * Tells the job to stop: sets the reason (the first one wins) and interrupts its thread if it is
   * running the job. The interrupt and {@link #detach()} share a lock, so an interrupt never
   * reaches a pooled thread that has moved on to another job.
   */
  void stop(Stop reason) {
    synchronized (this) {
      if (stop == null) {
        stop = reason;
        stopRequestedNanos = System.nanoTime();
      }
      if (thread != null) {
        thread.interrupt();
      }
    }
  }

  synchronized void attach(Thread current) {
    thread = current;
  }

  /** Detaches the worker thread and clears any interrupt meant for this job. */
  void detach() {
    synchronized (this) {
      thread = null;
    }
    Thread.interrupted();
  }

  /** Returns whether a party has claimed the report: the attempt has ended. */
  boolean isReported() {
    return reported;
  }

  /** Returns true for the first caller only: it reports the outcome. */
  boolean claimReport() {
    return REPORTED.compareAndSet(this, false, true);
  }

  @Override
  public String toString() {
    return "job "
        + claim.id()
        + " of batch "
        + claim.batchId()
        + " (attempt "
        + claim.attempt()
        + ")";
  }
}
