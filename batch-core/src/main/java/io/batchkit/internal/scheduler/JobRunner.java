package io.batchkit.internal.scheduler;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.FailurePolicy;
import io.batchkit.JobProcessor;
import io.batchkit.internal.memory.InMemoryJobStore;
import io.batchkit.internal.util.DaemonThreadFactory;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompleteAndClaimResult;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where jobs run: the pool of worker threads, a worker's life from one job to the next, and every
 * way a job's attempt ends (its outcome, a stop, a give-up, shutdown); what an ended attempt comes
 * to (success, retry, failure) is decided by {@link AttemptOutcomes}. A class of its own so that a
 * reader finds where jobs run by its name; the {@link Dispatcher} decides when they start.
 *
 * <p>Ownership: a <b>worker thread</b> owns one slot of the node, and one slot of its job's batch,
 * while it runs. When its job ends it takes its next job, keeping both: a job of the same batch
 * fetched ahead ({@link NodeState#pollReady(BatchId)}); else, on the in-memory store only, one it
 * claims itself (see {@link #workerClaimTypes}), after recording the outcome itself, giving the
 * batch's slot back in the same call. A job that failed for good in a batch with a failure policy
 * has its outcome recorded by its worker, on any store, before the job fetched ahead starts, so
 * that a policy it trips cancels that job unrun (not while the store is failing). Otherwise it
 * queues the outcome in {@link NodeState#outcomes}, a lock-free queue, gives both slots back
 * ({@link NodeState#releaseSlot}) and wakes the dispatcher. It also gives its slot back when the
 * dispatcher asks for one ({@link NodeState#slotWanted}) for a rate-limited type. The fields of
 * this class are set once, in the constructor; the shared state they work on is in {@link
 * NodeState}, whose comment says who writes what. Methods other parts call ({@link #launch}, {@link
 * #track}, {@link #stop}, {@link #giveUp}, ...) run on the caller's thread. At about 630 lines it
 * passes 500 because a worker's hand-off from one job to the next ({@code next}) and the ways an
 * attempt ends must be read together: each path there gives back or passes on the same two slots.
 */
final class JobRunner {
  /** Logs under the service's name, as it did before the service was split into parts. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private static final Duration INTERRUPT_GRACE = Duration.ofSeconds(1);

  /** The longest a worker waits for a pending refill of its batch before it gives its slot back. */
  private static final Duration REFILL_WAIT = Duration.ofSeconds(1);

  /**
   * A job shorter than this, followed on its worker by a job fetched ahead, leaves its outcome for
   * the dispatcher's next round instead of waking it: short jobs are recorded in groups.
   */
  private static final long GROUPED_OUTCOME_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  private final ServiceConfig config;
  private final JobStore store;
  private final NodeState node;
  private final Listeners listeners;

  /** Turns each ended attempt into the outcome to record. */
  private final AttemptOutcomes ends;

  private final CompletionWaiters waiters;

  /** The settings of the batches this node ran jobs of. */
  private final BatchSettings settings;

  /**
   * The job types a worker may claim for itself when it finishes a job, each with a limit of 1:
   * every type without a rate limit (rate-limited types are claimed by the dispatcher, which owns
   * their permits). Empty, so that workers do not claim (they call the store only to record a
   * failure a failure policy must see first), unless the store is the in-memory one: its calls cost
   * a lock, while on a database a call per job per worker costs a transaction each, all queueing on
   * the batch row (measured on PostgreSQL: four times slower than the dispatcher's grouped calls).
   */
  private final Map<String, Integer> workerClaimTypes;

  private final ThreadPoolExecutor workers;

  /** The job types' circuit breakers: told of every attempt's end, asked before a job starts. */
  private final CircuitBreakers breakers;

  /** Asked before a worker takes its next job: none while the heap is too full. */
  private final MemoryGuard memory;

  /** How many jobs to fetch ahead per type: told every attempt's length. */
  final FetchAhead fetchAhead;

  /** Whether a {@link Fetcher} fetches ahead (the store fetches aside), to be woken for refills. */
  private final boolean fetcher;

  JobRunner(
      ServiceConfig config,
      NodeState node,
      Listeners listeners,
      Backoff backoff,
      Stats stats,
      CompletionWaiters waiters,
      CircuitBreakers breakers,
      MemoryGuard memory) {
    this.config = config;
    this.breakers = breakers;
    this.memory = memory;
    this.store = config.store();
    boolean inMemory = store instanceof InMemoryJobStore;
    // on the in-memory store a worker records its job's outcome and claims its next job in one
    // call (workerClaimTypes), which costs a job far less than fetching it ahead and handing it
    // between threads (RESULTS.md, issue 10 step 20); so there, unless claimAhead says otherwise,
    // nothing is fetched ahead
    this.fetchAhead =
        new FetchAhead(config.claimAhead() >= 0 ? config.claimAhead() : inMemory ? 0 : -1);
    this.fetcher = store.fetchesAside();
    this.node = node;
    this.listeners = listeners;
    this.ends = new AttemptOutcomes(config, listeners, backoff, stats, breakers);
    this.waiters = waiters;
    this.settings = new BatchSettings(store);
    Map<String, Integer> selfClaim = new HashMap<>();
    if (inMemory) {
      config.processors().keySet().stream()
          .filter(type -> !config.rateLimits().containsKey(type))
          .filter(type -> !config.sharedRateLimits().containsKey(type))
          .forEach(type -> selfClaim.put(type, 1));
    }
    this.workerClaimTypes = Map.copyOf(selfClaim);
    this.workers =
        new ThreadPoolExecutor(
            0,
            Integer.MAX_VALUE,
            60,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            new DaemonThreadFactory("batchkit-worker-" + config.nodeId()));
  }

  /**
   * Gives a tracked job a slot of the node and a worker; the job holds a slot of its batch, which
   * the caller has taken ({@link NodeState#takeSlot}).
   */
  void launch(RunningJob job) {
    job.markStarted();
    node.runningCount.incrementAndGet();
    try {
      workers.execute(() -> work(job));
    } catch (RejectedExecutionException | OutOfMemoryError e) {
      // a closing pool, or no thread to be had: the job goes back to the queue
      node.running.remove(job.claim.id(), job);
      node.runningCount.decrementAndGet();
      node.outcomes.add(JobOutcome.released(job.claim));
      node.releaseSlot(job.claim.batchId());
      breakers.ended(job.batch.jobType(), job.claim.id()); // if it was the trial, another may go
      if (e instanceof OutOfMemoryError) {
        LOG.error("could not start a worker thread for {}; gave the job back", job, e);
      }
    }
  }

  /**
   * Makes a claimed job a {@link RunningJob} in {@link NodeState#running}; returns null (and gives
   * the job back) if its batch no longer exists. Does not touch {@link NodeState#runningCount}: the
   * caller owns the slot.
   *
   * @param claimNanos System.nanoTime() taken with the claim's time ({@code ClaimRequest.now}),
   *     which the store keeps as the job's start until the node reports its own (a worker's own
   *     claim may carry a time read up to a millisecond earlier: {@link WorkerClock})
   */
  RunningJob track(ClaimedJob claim, long claimNanos) {
    Batch batch = settings.get(claim.batchId());
    if (batch == null) {
      LOG.warn(
          "claimed job {} of batch {}, which no longer exists; giving it back",
          claim.id(),
          claim.batchId());
      JobOutcome back = JobOutcome.released(claim);
      node.outcomes.add(claim.holdsSlot() ? back : back.withoutSlot());
      return null;
    }
    RunningJob job = new RunningJob(claim, batch, listeners, config.clock(), node, claimNanos);
    node.running.put(claim.id(), job);
    return job;
  }

  /**
   * A worker's life: runs its job, then, while the service runs and the store is healthy, records
   * the outcome and claims its next job itself, keeping its slot, so that a busy service hands no
   * job from thread to thread and does not wake the dispatcher per job. It gives the slot back when
   * the store has nothing due for it.
   */
  private void work(RunningJob first) {
    RunningJob job = first;
    WorkerClock clock = new WorkerClock(config.clock());
    while (job != null) {
      AttemptOutcomes.Attempt attempt = attempt(job);
      if (!job.claimReport()) {
        return; // the dispatcher gave up on this job and its slot; this thread was abandoned
      }
      // the attempt's length, from when the job was given to this worker (for a job launched on
      // a worker of its own, that includes the hand-off to the thread)
      long nanos = job.nanosSinceStart();
      JobOutcome outcome;
      try {
        // made keeping the batch's slot when a job fetched ahead is likely to take it, so that the
        // common case makes one outcome; next() corrects a wrong guess
        boolean passesSlot = node.readyCount(job.claim.batchId()) > 0;
        outcome = ends.conclude(job, attempt, nanos, !passesSlot);
      } catch (RuntimeException | Error e) {
        // the last guard: the slot and the job must be handed on whatever happened
        LOG.error("could not conclude {}; giving the job back to the store", job, e);
        outcome = ends.releasedAfterStart(job);
        ends.released(job);
      }
      node.running.remove(job.claim.id(), job);
      RunningJob ended = job;
      try {
        job = next(ended, outcome, clock);
      } catch (RuntimeException | Error e) {
        // e.g. an Error from the store: hand the outcome to the dispatcher (sending it twice is
        // harmless, its token is spent once stored) and the slots back, or the service shrinks
        LOG.error("a worker failed while taking its next job; it gives its slot back", e);
        if (outcome != null) {
          node.outcomes.add(AttemptOutcomes.releasingSlot(outcome));
        }
        node.releaseSlot(ended.claim.batchId());
        node.runningCount.decrementAndGet();
        node.waiter.wake();
        return;
      }
    }
  }

  private AttemptOutcomes.Attempt attempt(RunningJob job) {
    JobProcessor processor = config.processors().get(job.batch.jobType());
    String result = null;
    Throwable failure = null;
    job.attach(Thread.currentThread());
    try {
      if (job.isCancelled()) {
        failure = new InterruptedException("stopped before it started");
      } else {
        listeners.fire("jobStarted", job.claim.id(), l -> l.jobStarted(job));
        job.announceStarted();
        if (job.isCancelled()) {
          // stopped while a listener held the thread: the attempt has ended, so do not begin it
          throw new InterruptedException("stopped before the processor was called");
        }
        result = processor.process(job);
        String problem =
            result == null
                ? null
                : BatchRequestValidator.resultProblem(result, config.maxPayloadBytes());
        if (problem != null) {
          failure = new IllegalStateException(problem + "; it was not stored");
          result = null;
        }
      }
    } catch (Throwable e) {
      failure = e;
    } finally {
      job.detach();
    }
    if (job.stopReason() == RunningJob.Stop.TIMED_OUT) {
      // whatever the processor did once its time was up, the attempt timed out
      return new AttemptOutcomes.Attempt(null, timedOut(job));
    }
    return new AttemptOutcomes.Attempt(result, failure);
  }

  private static TimeoutException timedOut(RunningJob job) {
    return new TimeoutException("attempt timed out after " + job.batch.jobTimeout());
  }

  /**
   * Hands {@code outcome} on and finds the worker its next job, keeping its slots: first a job of
   * the same batch fetched ahead, which starts in the batch's slot the ended job held (the failure
   * of a batch with a failure policy is recorded first); else, on the in-memory store, one the
   * worker claims itself, recording the outcome (which gives the batch's slot back) in the same
   * call, while the service runs and the store is healthy (unless it is a retry, whose time the
   * dispatcher must know). Otherwise the outcome goes to the dispatcher, which records it (and
   * retries if the store fails); the outcome of a short job followed by a job fetched ahead waits
   * for the dispatcher's next round, so that outcomes are recorded in groups. Returns the next job,
   * or null after giving the slots back.
   *
   * @param clock the worker's reading of the service clock, for the calls it makes to the store
   */
  private RunningJob next(RunningJob ended, JobOutcome outcome, WorkerClock clock) {
    BatchId batch = ended.claim.batchId();
    // with its listeners, which held this worker too: for its type's measured length, and for
    // whether to wake the dispatcher
    long jobNanos = ended.nanosSinceStart();
    fetchAhead.record(ended.batch.jobType(), jobNanos);
    boolean open = node.state.get() == NodeState.State.RUNNING;
    // the dispatcher has a rate-limit permit and no slot: then this slot goes back to it
    boolean giveSlot = open && node.slotWanted.get() && node.slotWanted.compareAndSet(true, false);
    // while the heap is too full, the slot goes back instead of taking the next job
    giveSlot |= open && memory.paused();
    // a job stopped because its batch was cancelled passes nothing on: the batch's jobs fetched
    // ahead are being ended too
    boolean takeNext = open && !giveSlot && ended.stopReason() != RunningJob.Stop.CANCELLED;
    RunningJob next = takeNext ? pollStartable(batch) : null;
    if (next == null && takeNext) {
      next = awaitStartable(batch); // a refill is on its way: keep the slot for it
    }
    if (next != null) {
      // fetched by another thread: it may have started later than this worker's last reading
      clock.forget();
    }
    boolean wake =
        next != null
            && node.readyCount(batch)
                <= fetchAhead.refillBelow(
                    ended.batch.jobType(), node.slotsOfType(ended.batch.jobType()));
    if (wake) {
      node.askRefill(batch);
      if (fetcher) {
        node.refills.wake();
      }
    }
    if (next != null && outcome != null) {
      outcome = outcome.withoutSlot(); // the batch's slot passes to the next job
      if (outcome.kind() == JobOutcome.Kind.FAILED && mayTrip(ended.batch) && !node.inOutage) {
        outcome = recordFailureFirst(outcome);
      }
    } else if (next == null) {
      node.releaseSlot(batch); // and the outcome gives it back to the store
      if (outcome != null) {
        outcome = AttemptOutcomes.releasingSlot(outcome);
      }
    }
    boolean selfServe = open && !node.inOutage && !workerClaimTypes.isEmpty();
    boolean mayClaim = selfServe && !giveSlot && next == null;
    JobOutcome queued = outcome;
    boolean claimed = false;
    // on the in-memory store, a worker with no job to pass its slot to records its outcome and
    // claims its next job in one call; the outcome of a job whose slot passed on waits for the
    // dispatcher's next round, with the others (unless recordFailureFirst recorded it)
    if (mayClaim && outcome != null && outcome.retryAt().isEmpty()) {
      try {
        Instant now = clock.now();
        long claimNanos = System.nanoTime();
        CompleteAndClaimResult result =
            store.completeAndClaim(List.of(outcome), now, selfClaim(now));
        CompletionResult completion = result.completion();
        claimed = true;
        next =
            result.claimed().isEmpty() ? null : trackWithSlot(result.claimed().get(0), claimNanos);
        queued = null;
        afterChangeHoldingNext(completion.batches());
      } catch (RuntimeException e) {
        LOG.debug("a worker could not record its outcome; the dispatcher will", e);
      }
    }
    if (next == null && mayClaim && !claimed) {
      try {
        Instant now = clock.now();
        long claimNanos = System.nanoTime();
        List<ClaimedJob> got = store.claim(selfClaim(now));
        next = got.isEmpty() ? null : trackWithSlot(got.get(0), claimNanos);
      } catch (RuntimeException e) {
        LOG.debug("a worker could not claim its next job; the dispatcher will", e);
      }
    }
    if (queued != null) {
      node.outcomes.add(queued);
      wake |= next == null || jobNanos >= GROUPED_OUTCOME_NANOS || queued.retryAt().isPresent();
    }
    if (next != null) {
      next.markStarted();
      if (wake || !node.dispatcherAsleep || next.deadlineNanos() - node.sleepUntilNanos < 0) {
        // also when the dispatcher must watch this job's timeout sooner than planned
        node.waiter.wake();
      }
      return next;
    }
    node.runningCount.decrementAndGet();
    node.waiter.wake();
    return null;
  }

  private static boolean mayTrip(Batch batch) {
    return !batch.failurePolicy().equals(FailurePolicy.never());
  }

  /**
   * Records the failure of a job whose slot passes to a job fetched ahead before that job starts,
   * so that a failure policy it trips stops that job and the batch's others unstarted ({@link
   * #afterChange}) instead of letting them run while the outcome waits for the dispatcher's round.
   * Returns null once recorded, or the outcome, for the dispatcher, if the store failed.
   */
  private JobOutcome recordFailureFirst(JobOutcome outcome) {
    List<Batch> changed;
    try {
      changed = store.complete(List.of(outcome), config.clock().instant()).batches();
    } catch (RuntimeException | Error e) {
      // whatever the store threw, the job fetched ahead that this worker holds must still start
      if (e instanceof Error) {
        LOG.error("a worker could not record a failure; the dispatcher will", e);
      } else {
        LOG.debug("a worker could not record a failure; the dispatcher will", e);
      }
      return outcome;
    }
    afterChangeHoldingNext(changed);
    return null;
  }

  /**
   * {@link #afterChange} for a worker that holds its next job, taken but not started: whatever it
   * throws, the worker must go on to start that job. The outcome is recorded all the same; a batch
   * that ended still reaches its jobs through the heartbeat's cancellations, and its waiters
   * through the store's notice of finished batches.
   */
  private void afterChangeHoldingNext(List<Batch> changed) {
    try {
      afterChange(changed);
    } catch (RuntimeException | Error e) {
      LOG.error("could not act on the batches an outcome changed", e);
    }
  }

  /**
   * Tracks a job a worker claimed for itself, which holds a slot of its batch; returns null if its
   * batch no longer exists.
   */
  private RunningJob trackWithSlot(ClaimedJob claim, long claimNanos) {
    RunningJob job = track(claim, claimNanos);
    if (job != null) {
      node.takeSlot(claim.batchId(), job.batch.jobType());
    }
    return job;
  }

  /**
   * Waits for the refill of {@code batch} the workers asked for, if one is pending, and takes the
   * first job it brought whose type may start; returns null if none came. It waits at most {@link
   * #REFILL_WAIT}: whoever fetches (the {@link Fetcher}, or the dispatcher with its next claim)
   * ends every pending refill after its fetch.
   */
  private RunningJob awaitStartable(BatchId batch) {
    try {
      RunningJob next = node.awaitReady(batch, REFILL_WAIT.toNanos());
      if (next != null && !breakers.mayStart(next.batch.jobType(), next.claim.id())) {
        endUnstarted(next, null);
        return pollStartable(batch);
      }
      return next;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /**
   * Takes the next job of {@code batch} fetched ahead whose type may start; gives back to the
   * queue, unstarted, those of types whose circuit is open. Returns null if none is left.
   */
  RunningJob pollStartable(BatchId batch) {
    RunningJob next;
    while ((next = node.pollReady(batch)) != null
        && !breakers.mayStart(next.batch.jobType(), next.claim.id())) {
      endUnstarted(next, null); // released: its attempt is not counted, and it waits queued
    }
    return next;
  }

  /**
   * A worker's claim for its own slot: one job of a type without a rate limit and whose circuit is
   * closed (the dispatcher claims the trial job of a half-open one).
   */
  private ClaimRequest selfClaim(Instant now) {
    Map<String, Integer> types = workerClaimTypes;
    if (!breakers.isEmpty()) {
      types = new HashMap<>(workerClaimTypes);
      types.keySet().removeIf(type -> !breakers.isClosed(type));
    }
    return new ClaimRequest(
        config.nodeId(), 1, now, now.plus(config.leaseDuration()), config.priorityAging(), types);
  }

  /**
   * Ends a job on behalf of a worker that did not return within the grace period after it was told
   * to stop (its processor, or a listener, ignored the interrupt): the first report wins, so a late
   * return of the worker is ignored. Gives the slot back.
   */
  void giveUp(RunningJob job) {
    if (!job.claimReport()) {
      return;
    }
    LOG.warn(
        "{} did not return within {} of being told to stop (its processor or a listener ignored"
            + " the interrupt); ending it and giving its slot back (its thread is abandoned)",
        job,
        config.interruptGracePeriod());
    TimeoutException failure =
        new TimeoutException(
            "attempt timed out after "
                + job.batch.jobTimeout()
                + " and did not return within "
                + config.interruptGracePeriod()
                + " of its interrupt");
    JobOutcome outcome = ends.releasedAfterStart(job);
    boolean concluded = false;
    try {
      outcome =
          ends.conclude(job, new AttemptOutcomes.Attempt(null, failure), job.nanosSinceStart());
      concluded = true;
    } finally {
      if (!concluded) {
        ends.released(job); // conclude threw: the job goes back as released, without an outcome
      }
      if (outcome != null) {
        node.outcomes.add(outcome);
      }
      node.running.remove(job.claim.id(), job);
      node.releaseSlot(job.claim.batchId());
      node.runningCount.decrementAndGet();
      node.waiter.wake();
    }
  }

  /**
   * Reacts to batches whose jobs changed: finished ones are announced, aborted ones stopped here.
   */
  void afterChange(List<Batch> batches) {
    for (int i = 0; i < batches.size(); i++) { // a result's list, cheap to index; once per job
      Batch batch = batches.get(i);
      if (batch.isFinished()) {
        waiters.finished(batch);
      } else if (batch.status().isFinal()) {
        stopJobsOf(batch.id());
      }
    }
  }

  /** Tells this node's jobs of a cancelled or aborted batch to stop. */
  void stopJobsOf(BatchId id) {
    for (RunningJob job : node.running.values()) {
      if (job.claim.batchId().equals(id)) {
        stop(job, RunningJob.Stop.CANCELLED);
      }
    }
  }

  /**
   * Tells a job to stop; a job fetched ahead and not started ends here at once (cancelled, or
   * dropped if its lease was lost), without a slot.
   */
  void stop(RunningJob job, RunningJob.Stop reason) {
    job.stop(reason);
    if (!job.isStarted() && node.removeReady(job)) {
      endUnstarted(job, new InterruptedException("stopped before it started"));
    }
  }

  /**
   * Queues a job fetched ahead for the workers ({@link NodeState#addReady}); a cancellation that
   * came as it was queued ends it at once. For whoever fetches.
   */
  void queueFetched(RunningJob job) {
    node.addReady(job);
    if (job.isCancelled() && node.removeReady(job)) {
      endUnstarted(job, new InterruptedException("stopped before it started"));
    }
  }

  /**
   * Ends a job fetched ahead that this thread took out of its queue ({@link NodeState#pollReady}):
   * it never ran, and holds no slot.
   */
  void endUnstarted(RunningJob job, Throwable reason) {
    if (!job.claimReport()) {
      return;
    }
    JobOutcome outcome = JobOutcome.released(job.claim);
    try {
      if (job.stopReason() != RunningJob.Stop.SHUTDOWN && job.stopReason() != null) {
        outcome = ends.conclude(job, new AttemptOutcomes.Attempt(null, reason), 0, false);
      }
    } finally {
      if (outcome != null) {
        node.outcomes.add(outcome.withoutSlot()); // it never ran in one
      }
      node.running.remove(job.claim.id(), job);
      node.waiter.wake();
    }
  }

  /** Forgets the settings of a deleted batch. */
  void forget(BatchId id) {
    settings.forget(id);
  }

  /**
   * Stops the pool for {@code close()}: waits the shutdown grace period for the workers, then
   * interrupts their jobs, and after {@link #INTERRUPT_GRACE} gives the jobs of workers that still
   * did not return back to the store.
   */
  void shutdown() {
    workers.shutdown();
    if (!awaitWorkers(config.shutdownGracePeriod())) {
      node.running.values().forEach(job -> job.stop(RunningJob.Stop.SHUTDOWN));
      if (!awaitWorkers(INTERRUPT_GRACE)) {
        for (RunningJob job : node.running.values()) {
          if (job.isStarted() && job.claimReport()) {
            LOG.warn("{} ignored its interrupt; giving its job back to the store", job);
            node.outcomes.add(ends.releasedAfterStart(job));
            ends.released(job);
            node.running.remove(job.claim.id(), job);
            node.releaseSlot(job.claim.batchId());
            node.runningCount.decrementAndGet();
          }
        }
      }
    }
  }

  private boolean awaitWorkers(Duration timeout) {
    try {
      return workers.awaitTermination(timeout.toNanos(), TimeUnit.NANOSECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}
