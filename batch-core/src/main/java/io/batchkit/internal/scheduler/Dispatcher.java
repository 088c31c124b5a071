package io.batchkit.internal.scheduler;

import dev.failsafe.RateLimiter;
import io.batchkit.BatchId;
import io.batchkit.internal.util.DaemonThreadFactory;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompleteAndClaimResult;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The dispatcher thread: claims jobs and starts them on the {@link JobRunner}'s workers, records
 * outcomes, and runs the timers of the {@link LeaseKeeper}, the {@link TimeoutWatch} and the {@link
 * CompletionWaiters}. A class of its own so that the dispatch round can be read in one file. At
 * about 520 lines it passes 500 mostly by this comment, which describes the round whole; the timers
 * it runs and what a round asks for ({@link ClaimPlan}) are in their own classes, and fetching on a
 * store that fetches aside in {@link Fetcher}.
 *
 * <h2>Ownership</h2>
 *
 * The dispatcher thread owns every mutable field of this class: outcomes it has not sent yet
 * ({@link #unsent}), the {@link ClaimPlan} (and the rate-limit permits it banked), its timers, and
 * the earliest retry time ({@link #nextRetryAt}). The one exception is {@link #stopDispatcher},
 * which {@code close()} sets. Of the shared state in {@link NodeState}, it alone increments {@link
 * NodeState#runningCount}, adds to the ready queue (unless a {@link Fetcher} does), and writes
 * {@link NodeState#inOutage}, {@link NodeState#dispatcherAsleep} and {@link
 * NodeState#sleepUntilNanos}.
 *
 * <h2>The dispatch round</h2>
 *
 * Each round the dispatcher (1) claims up to the free slots, fetches ahead (see {@link FetchAhead}:
 * jobs leased to this node that take none of their batch's slots, started by workers in the slots
 * of their batch they hold) and sends every queued outcome with the claim, in one {@code
 * completeAndClaim} call, and starts the jobs given slots; it first gives back jobs fetched ahead
 * of batches this node holds no slot of any more; when it claimed nothing, it sends the outcomes
 * still queued in {@code complete} calls, and otherwise leaves them for the next round's claim,
 * which follows as soon as the jobs it started end, so that a busy node records a group of outcomes
 * and claims the next group in one transaction (on a database, one commit instead of two). On a
 * store that fetches aside ({@code JobStore.fetchesAside}: PostgreSQL) the {@link Fetcher} fetches
 * ahead instead, on a thread and a transaction of its own; the round then claims only for free
 * slots and wakes the fetcher when its claim gave the node slots. (2) renews leases every third of
 * the lease duration and takes back expired leases every half lease (at most every max poll
 * interval), (3) completes the futures of awaited batches that the store reported finished ({@code
 * JobStore.subscribeFinished}: on PostgreSQL, within milliseconds of another node finishing them)
 * and, while callers wait for batches, polls the store for finished ones every poll interval, (4)
 * interrupts jobs past their timeout and gives up on those that did not return for the grace period
 * (this step needs no store, so it runs during an outage too), then (5) sleeps until a worker gives
 * a slot back, queues an outcome it wants recorded soon or takes the jobs of a batch fetched ahead
 * down to half (it then asks for a refill, which the fetcher or the next round brings, and the
 * workers that find none left wait for it, up to a second, rather than give their slots back), a
 * caller or the store (through {@code JobStore.subscribe}) announces work, the store reports an
 * awaited batch finished, a retry or a timeout falls due, or the next timer is due. The outcome of
 * a short job followed by a job fetched ahead waits for the next round, so outcomes are recorded in
 * groups. A worker that starts a job due to time out before the dispatcher's planned wake-up wakes
 * it. A round that found nothing doubles the next sleep, from the poll interval up to the max poll
 * interval, so an idle service leaves the store alone. A round claims only when it is due: after a
 * wake-up, with outcomes to send, when a retry fell due, when a scheduled batch was started ({@link
 * ScheduledStarts}, every second), or when the poll wait is up; the other timers (leases, the
 * {@link NodeWatch}'s checks for dead nodes twice a second, timeouts) wake the loop without a
 * claim. A job type whose circuit is open ({@link CircuitBreakers}) is not claimed, and while the
 * heap is too full ({@link MemoryGuard}) nothing is. Priority order, ageing and the per-batch limit
 * are applied by the store in {@code claim}, so they hold across every node that shares it,
 * whichever thread claims; so are the rate limits the store holds for all nodes ({@code
 * sharedRateLimit}: a claim takes a token per job, and the {@link ClaimPlan} times the next claim
 * to the next token). The other rate limits are per service: before a claim, the dispatcher takes
 * permits from each type's Failsafe limiter (up to the free slots) and passes them as that type's
 * claim limit; rate-limited types are never fetched ahead or claimed by workers.
 *
 * <h2>Failures</h2>
 *
 * A store that fails is logged at WARN once per outage; the dispatcher backs off (doubling from 100
 * ms up to the max poll interval) and keeps unsent outcomes until the store takes them, so no
 * outcome is lost. Leases run out on their own if the outage outlasts them; the store then requeues
 * those jobs, and their late outcomes are rejected by the fencing token.
 */
final class Dispatcher {
  /** Logs under the service's name, as it did before the service was split into parts. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private static final int MAX_OUTCOMES_PER_CALL = 1_000;

  /**
   * How soon progress a job reported is stored: the lease renewal that carries it comes at most
   * this long after the last one, so a job's stored progress is written at most once a second.
   */
  private static final long PROGRESS_NANOS = TimeUnit.SECONDS.toNanos(1);

  /**
   * The least time a batch's jobs fetched ahead wait with none of them taken before they go back
   * ({@link #releaseStranded}).
   */
  private static final long STRANDED_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final ServiceConfig config;
  private final JobStore store;
  private final NodeState node;
  private final JobRunner runner;
  private final LeaseKeeper leases;
  private final TimeoutWatch timeouts;
  private final CompletionWaiters waiters;
  private final NodeWatch nodes;
  private final CircuitBreakers breakers;
  private final MemoryGuard memory;
  private final ScheduledStarts starts;
  private final HistoryPruner pruner;

  /** What each round asks the store for, and the rate-limit permits banked between rounds. */
  private final ClaimPlan claimPlan;

  /** Fetches ahead beside the rounds on a store that fetches aside; else null (rounds fetch). */
  private final Fetcher fetcher;

  private final Thread thread;

  /**
   * Set by {@code close()} (through {@link #stop()}) after the worker pool was shut down: the loop
   * ends after its round.
   */
  private volatile boolean stopDispatcher;

  // dispatcher-owned
  private final List<JobOutcome> unsent = new ArrayList<>();

  private long lastHeartbeatNanos;
  private long lastSweepNanos;
  private long lastAwaitPollNanos;
  private long outageBackoffNanos;

  /** Set by a round that started nothing because the heap was too full. */
  private boolean memoryWait;

  /**
   * The earliest retry time among the outcomes this node sent, so the retry is not late by a poll.
   */
  private Instant nextRetryAt;

  Dispatcher(
      ServiceConfig config,
      NodeState node,
      JobRunner runner,
      LeaseKeeper leases,
      TimeoutWatch timeouts,
      CompletionWaiters waiters,
      NodeWatch nodes,
      CircuitBreakers breakers,
      MemoryGuard memory,
      Map<String, RateLimiter<Object>> rateLimiters,
      ScheduledStarts starts,
      HistoryPruner pruner) {
    this.config = config;
    this.store = config.store();
    this.node = node;
    this.runner = runner;
    this.leases = leases;
    this.timeouts = timeouts;
    this.waiters = waiters;
    this.nodes = nodes;
    this.breakers = breakers;
    this.memory = memory;
    this.starts = starts;
    this.pruner = pruner;
    this.claimPlan = new ClaimPlan(config, node, runner.fetchAhead, breakers, rateLimiters);
    this.fetcher =
        store.fetchesAside()
            ? new Fetcher(config, node, runner, breakers, memory, claimPlan)
            : null;
    this.thread =
        new DaemonThreadFactory("batchkit-dispatcher-" + config.nodeId())
            .newThread(this::dispatchLoop);
  }

  /** Starts the dispatcher thread. */
  void start() {
    thread.start();
    if (fetcher != null) {
      fetcher.start();
    }
  }

  /**
   * Ends the loop after its round (it then gives back the jobs fetched ahead and sends the last
   * outcomes) and waits up to 30 s for the thread; for {@code close()}, after the worker pool was
   * shut down.
   */
  void stop() {
    stopDispatcher = true;
    node.waiter.wake();
    if (!DaemonThreadFactory.awaitEnd(thread, Duration.ofSeconds(30))) {
      LOG.warn("dispatcher of service {} did not stop within 30s", config.nodeId());
    }
  }

  /** The dispatcher thread's life: rounds until {@link #stop()}. */
  private void dispatchLoop() {
    long pollNanos = config.pollInterval().toNanos();
    long maxPollNanos = config.maxPollInterval().toNanos();
    long heartbeatNanos =
        Math.max(config.leaseDuration().toNanos() / 3, TimeUnit.MILLISECONDS.toNanos(10));
    long sweepNanos =
        Math.max(pollNanos, Math.min(config.leaseDuration().toNanos() / 2, maxPollNanos));
    long idleNanos = pollNanos;
    lastHeartbeatNanos = lastSweepNanos = lastAwaitPollNanos = System.nanoTime();
    // when the next claim is due: at once after a wake-up or a queued outcome, else after the poll
    // wait; the other timers (leases, dead nodes, timeouts) wake the loop without a claim
    long claimDueNanos = System.nanoTime();
    while (!stopDispatcher) {
      long waitNanos;
      try {
        // outcomes first (with the claim when there is one), so that no lease this node still
        // holds an outcome for is taken back by the sweep below
        boolean hadOutcomes = !unsent.isEmpty() || !node.outcomes.isEmpty();
        // batches whose time came: their jobs are claimable now
        boolean startedScheduled = node.state.get() == NodeState.State.RUNNING && starts.tick() > 0;
        pruner.tick(); // history past its retention, in short steps
        // (a circuit that half-opens wakes the dispatcher, which then claims its trial job)
        boolean retryDue = retryFellDue(); // first: it forgets the retry it reports
        boolean claimRound =
            retryDue || hadOutcomes || startedScheduled || System.nanoTime() - claimDueNanos >= 0;
        claimPlan.startRound();
        int claimed =
            claimRound && node.state.get() == NodeState.State.RUNNING && nodes.ensureRegistered()
                ? claimAndLaunch()
                : 0;
        if (claimed == 0) {
          // no claim follows at once, so what the claim did not carry is recorded now; after a
          // claim, the outcomes of the jobs it started ride with the next round's claim instead
          // (the workers wake the dispatcher as they finish): one transaction, not two
          flushOutcomes();
        }
        long now = System.nanoTime();
        if (now - lastHeartbeatNanos >= renewNanos(heartbeatNanos)) {
          lastHeartbeatNanos = now;
          leases.heartbeat();
        }
        if (now - lastSweepNanos >= sweepNanos) {
          lastSweepNanos = now;
          leases.recoverExpiredLeases();
        }
        long nodeWaitNanos = nodes.tick(); // this node's heartbeat, and the dead nodes' jobs back
        waiters.pollReported(); // batches another node finished, announced by the store
        if (!waiters.isEmpty() && now - lastAwaitPollNanos >= pollNanos) {
          lastAwaitPollNanos = now;
          waiters.pollAwaited();
        }
        if (claimRound) {
          long claimWaitNanos;
          if (hadOutcomes || claimed > 0 || memoryWait) {
            idleNanos = pollNanos;
            claimWaitNanos = pollNanos;
            memoryWait = false;
          } else {
            // nothing happened: look at the store less and less often, until something wakes us
            claimWaitNanos = idleNanos;
            idleNanos = Math.min(maxPollNanos, idleNanos * 2);
          }
          claimWaitNanos = Math.min(claimWaitNanos, claimPlan.rateLimitWaitNanos());
          if (node.readyCount() > 0) {
            // jobs fetched ahead wait: the idle backoff must not put off their release (a claim
            // round gives back stranded ones, releaseStranded) by up to maxPollInterval
            claimWaitNanos = Math.min(claimWaitNanos, STRANDED_NANOS / 2);
          }
          claimDueNanos = System.nanoTime() + claimWaitNanos;
        }
        waitNanos = Math.min(claimDueNanos - System.nanoTime(), untilNextRetry());
        waitNanos = Math.min(waitNanos, nodeWaitNanos);
        waitNanos = Math.min(waitNanos, breakers.nanosUntilTrial());
        if (node.state.get() == NodeState.State.RUNNING) {
          waitNanos = Math.min(waitNanos, starts.nanosUntilCheck()); // closing: no more starts
        }
        waitNanos =
            Math.min(
                waitNanos, renewNanos(heartbeatNanos) - (System.nanoTime() - lastHeartbeatNanos));
        if (!waiters.isEmpty()) {
          waitNanos = Math.min(waitNanos, pollNanos);
        }
        if (node.inOutage) {
          node.inOutage = false;
          outageBackoffNanos = 0;
          LOG.warn("job store is reachable again; service {} carries on", config.nodeId());
        }
      } catch (RuntimeException e) {
        waitNanos = onStoreFailure(e, maxPollNanos);
        claimDueNanos = System.nanoTime() + waitNanos;
      } catch (Error e) {
        // e.g. an OutOfMemoryError: the dispatcher must outlive it, or the service stops silently
        LOG.error("dispatcher of service {} caught an error; it carries on", config.nodeId(), e);
        waitNanos = pollNanos;
        claimDueNanos = System.nanoTime() + waitNanos;
      }
      // timeouts hold while the store is down too: this needs no store
      waitNanos = Math.min(waitNanos, timeouts.watchRunningJobs());
      if (node.outcomes.isEmpty() && !stopDispatcher) {
        long sleepNanos = Math.max(waitNanos, 0);
        node.sleepUntilNanos = System.nanoTime() + sleepNanos;
        node.dispatcherAsleep = true;
        boolean woken = node.waiter.await(sleepNanos);
        node.dispatcherAsleep = false;
        if (woken) {
          idleNanos = pollNanos;
          claimDueNanos = System.nanoTime(); // a wake-up means work or a free slot: claim now
        }
      }
    }
    if (fetcher != null) {
      fetcher.stop(); // before the last jobs fetched ahead are given back: it adds no more
    }
    releaseClaimedAhead(); // those a round claimed while close() began
    try {
      flushOutcomes();
    } catch (RuntimeException e) {
      LOG.warn(
          "could not record {} job outcomes while closing; their leases will expire and the jobs"
              + " will run again",
          unsent.size(),
          e);
    }
  }

  /**
   * How long after the last lease renewal the next is due: a third of the lease, or a second while
   * reported progress waits (it is stored with the renewal, so within a second or two).
   */
  private long renewNanos(long heartbeatNanos) {
    return node.progressPending.get() ? Math.min(heartbeatNanos, PROGRESS_NANOS) : heartbeatNanos;
  }

  private long onStoreFailure(RuntimeException e, long maxNanos) {
    long min = TimeUnit.MILLISECONDS.toNanos(100);
    outageBackoffNanos = Math.min(Math.max(min, maxNanos), Math.max(min, outageBackoffNanos * 2));
    if (!node.inOutage) {
      node.inOutage = true;
      LOG.warn(
          "job store failed on service {} ({}); backing off and retrying",
          config.nodeId(),
          e.toString());
      LOG.debug("job store failure", e);
    } else {
      LOG.debug("job store still failing: {}", e.toString());
    }
    return outageBackoffNanos;
  }

  /** Sends every queued outcome to the store; keeps them in {@link #unsent} if the store fails. */
  private int flushOutcomes() {
    int sent = 0;
    while (drainOutcomes()) {
      sent += unsent.size();
      recorded(store.complete(List.copyOf(unsent), config.clock().instant()));
    }
    return sent;
  }

  /**
   * Moves queued outcomes to {@link #unsent}, up to one call's worth; returns whether any are there
   * to send.
   */
  private boolean drainOutcomes() {
    JobOutcome next;
    while (unsent.size() < MAX_OUTCOMES_PER_CALL && (next = node.outcomes.poll()) != null) {
      unsent.add(next);
    }
    return !unsent.isEmpty();
  }

  /** Acts on what the store did with the outcomes in {@link #unsent}, which it has now. */
  private void recorded(CompletionResult result) {
    for (JobOutcome outcome : unsent) {
      if (outcome.retryAt().isPresent()) { // not ifPresent(this::noteRetry): no object per job
        noteRetry(outcome.retryAt().get());
      }
    }
    unsent.clear();
    if (!result.rejected().isEmpty()) {
      LOG.debug(
          "store rejected the outcomes of {} jobs whose lease was lost", result.rejected().size());
    }
    runner.afterChange(result.batches());
  }

  private void noteRetry(Instant at) {
    if (nextRetryAt == null || at.isBefore(nextRetryAt)) {
      nextRetryAt = at;
    }
  }

  /** Returns the nanoseconds until the earliest known retry is due (0 once it is). */
  private long untilNextRetry() {
    if (nextRetryAt == null) {
      return Long.MAX_VALUE;
    }
    return Math.max(0, Duration.between(config.clock().instant(), nextRetryAt).toNanos());
  }

  /**
   * Returns whether the earliest known retry is due, and forgets it if so: the claim this round
   * makes can take it.
   */
  private boolean retryFellDue() {
    if (nextRetryAt == null || untilNextRetry() > 0) {
      return false;
    }
    nextRetryAt = null;
    return true;
  }

  /**
   * Gives every job fetched ahead back to the store, unstarted: for shutdown, and when a full heap
   * stops starts ({@link MemoryGuard}).
   */
  void releaseClaimedAhead() {
    RunningJob job;
    while ((job = node.pollReady()) != null) {
      job.stop(RunningJob.Stop.SHUTDOWN);
      runner.endUnstarted(job, new InterruptedException("the service is closing"));
    }
  }

  /**
   * Claims up to the free slots and fetches ahead (see {@link FetchAhead}), and starts the jobs the
   * claim gave slots; returns how many it claimed. What each type may claim, and the rate limits'
   * permits, are the {@link ClaimPlan}'s.
   */
  private int claimAndLaunch() {
    try {
      return claimAndLaunchOnce();
    } finally {
      if (fetcher == null) {
        node.refillsDone(); // workers waiting for jobs fetched ahead take them or give slots back
      }
    }
  }

  private int claimAndLaunchOnce() {
    if (memory.paused()) {
      memoryWait = true; // look again at the next poll interval, not after an idle backoff
      releaseClaimedAhead(); // their leases would keep them from other nodes for the whole pause
      return 0;
    }
    releaseStranded();
    int free = config.maxConcurrency() - node.runningCount.get();
    if (config.processors().isEmpty()) {
      return 0;
    }
    long nowNanos = System.nanoTime();
    ClaimPlan.Round plan = claimPlan.plan(free, nowNanos);
    Map<String, Integer> types = plan.types();
    // with a fetcher, the round claims only for free slots; a claim that gave the node slots wakes
    // it, as the workers do when their jobs fetched ahead run low
    Map<String, Integer> fetch = fetcher == null ? plan.fetch() : Map.of();
    if (free <= 0 && fetch.isEmpty()) {
      return 0;
    }
    // the queued outcomes go with the claim: the slots they free in a batch can be claimed at once,
    // and a durable store does both in one transaction
    drainOutcomes();
    Instant now = config.clock().instant();
    long claimNanos = System.nanoTime(); // the moment of the claim's time, which the store keeps
    CompleteAndClaimResult round =
        store.completeAndClaim(
            List.copyOf(unsent),
            now,
            new ClaimRequest(
                config.nodeId(),
                Math.max(free, 0),
                now,
                now.plus(config.leaseDuration()),
                config.priorityAging(),
                types,
                fetch,
                config.sharedRateLimits()));
    recorded(round.completion());
    List<ClaimedJob> claimed = round.claimed();
    Map<String, Integer> claimedPerType = new HashMap<>();
    int tracked = 0; // the claims before this one are tracked: no copy of the list per round
    try {
      while (tracked < claimed.size()) {
        ClaimedJob claim = claimed.get(tracked);
        RunningJob job = runner.track(claim, claimNanos);
        tracked++;
        if (job == null) {
          continue;
        }
        String type = job.batch.jobType();
        breakers.claimed(type, claim.id());
        if (claim.holdsSlot()) {
          claimedPerType.merge(type, 1, Integer::sum);
          claimPlan.spent(type);
          node.takeSlot(claim.batchId(), type);
          runner.launch(job);
        } else {
          runner.queueFetched(job);
        }
      }
    } finally {
      // a failure half-way (the batch settings could not be read) gives back what was not tracked
      for (ClaimedJob c : claimed.subList(tracked, claimed.size())) {
        JobOutcome back = JobOutcome.released(c);
        node.outcomes.add(c.holdsSlot() ? back : back.withoutSlot());
      }
    }
    if (fetcher == null) {
      node.forgetEmptyFetches();
    } else if (!claimedPerType.isEmpty() && !plan.fetch().isEmpty()) {
      fetcher.wake();
    }
    claimPlan.claimed(plan, claimedPerType, nowNanos);
    return claimed.size();
  }

  /**
   * Gives back jobs fetched ahead that no slot here may start soon: all those of batches this node
   * holds no slot of any more (its last job of the batch ended as they arrived), and all those of a
   * batch none of whose jobs fetched ahead was taken for longer than {@link #strandedAfterNanos}:
   * the batch's jobs running here, whose workers pass their slots to them, all run long (for
   * instance far longer than the type's measured length). A queue that its batch's workers keep
   * taking from is left alone, however long its last job waits. Given back, the jobs are queued
   * again, and a free slot of their batch, here or on another node, takes them; this node fetches
   * none of their type ahead until one of its jobs here ends ({@link FetchAhead#hold}).
   */
  private void releaseStranded() {
    for (BatchId id : node.batchesFetched()) {
      RunningJob job;
      if (node.slotsOf(id) == 0) {
        while (node.slotsOf(id) == 0 && (job = node.pollReady(id)) != null) {
          runner.endUnstarted(job, new InterruptedException("its node runs no job of its batch"));
        }
        continue;
      }
      RunningJob first = node.peekReady(id);
      if (first != null && node.readyUntakenNanos(id) > strandedAfterNanos(first.batch.jobType())) {
        // held first: a job of the type that ends meanwhile lifts the hold, as it should
        runner.fetchAhead.hold(first.batch.jobType());
        while ((job = node.pollReady(id)) != null) {
          runner.endUnstarted(job, new InterruptedException("it waited too long for a slot here"));
        }
      }
    }
  }

  /**
   * How long a batch's jobs fetched ahead may wait with none of them taken before they go back: a
   * second ({@link #STRANDED_NANOS}), or four times the type's measured length if that is longer,
   * so that a batch whose jobs are long, and vary, does not give back what it fetched as a matter
   * of course (a job four times the mean is rare: about 2 % of exponentially spread lengths).
   */
  private long strandedAfterNanos(String jobType) {
    return Math.max(STRANDED_NANOS, 4 * runner.fetchAhead.meanNanos(jobType));
  }
}
