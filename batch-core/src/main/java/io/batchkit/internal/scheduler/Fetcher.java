package io.batchkit.internal.scheduler;

import io.batchkit.internal.util.DaemonThreadFactory;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.RandomAccess;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fetcher thread, on a store that fetches aside ({@link JobStore#fetchesAside}): fetches jobs
 * ahead (see {@link FetchAhead}) beside the dispatcher's rounds, so that a node has two
 * transactions in flight: the dispatcher's, which records outcomes and claims free slots, and this
 * one, which leases the jobs its workers take next. On PostgreSQL the two then run on two backends
 * and touch different rows. A class of its own so that the refill path is read in one file.
 *
 * <p>It fetches when a worker asks for a refill ({@link NodeState#askRefill}) and after a dispatch
 * round's claim gave the node slots, then plans again at once while its fetches bring jobs;
 * otherwise it sleeps, at most a max poll interval. It fetches only for the slots the node holds,
 * and nothing while the service closes, the store is failing or the heap is too full ({@link
 * MemoryGuard}). Jobs that arrive for a batch whose last slot the node gave back meanwhile cannot
 * start here: it wakes the dispatcher, whose round gives them back.
 *
 * <h2>Ownership</h2>
 *
 * While it runs, this thread alone adds jobs fetched ahead ({@link JobRunner#queueFetched}), ends
 * pending refills ({@link NodeState#refillsDone}, after every attempt, so that no worker waits for
 * a fetch that brought nothing) and forgets empty fetches; the dispatcher then fetches nothing. Its
 * one mutable field, {@link #stopped}, is set by {@link #stop()}.
 */
final class Fetcher {
  /** Logs under the service's name, as the other parts of the service do. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private static final long MIN_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

  private final ServiceConfig config;
  private final JobStore store;
  private final NodeState node;
  private final JobRunner runner;
  private final CircuitBreakers breakers;
  private final MemoryGuard memory;
  private final ClaimPlan plan;
  private final Thread thread;

  /** Every job type the node runs, each with no claim for slots: what a fetch names. */
  private final Map<String, Integer> noSlots;

  private volatile boolean stopped;

  Fetcher(
      ServiceConfig config,
      NodeState node,
      JobRunner runner,
      CircuitBreakers breakers,
      MemoryGuard memory,
      ClaimPlan plan) {
    this.config = config;
    this.store = config.store();
    this.node = node;
    this.runner = runner;
    this.breakers = breakers;
    this.memory = memory;
    this.plan = plan;
    Map<String, Integer> types = new HashMap<>();
    config.processors().keySet().forEach(type -> types.put(type, 0));
    this.noSlots = Map.copyOf(types);
    this.thread =
        new DaemonThreadFactory("batchkit-fetcher-" + config.nodeId()).newThread(this::loop);
  }

  void start() {
    thread.start();
  }

  /** Asks for a fetch now (or after the one under way). */
  void wake() {
    node.refills.wake();
  }

  /** Ends the loop after its fetch and waits up to 30 s for the thread. */
  void stop() {
    stopped = true;
    node.refills.wake();
    if (!DaemonThreadFactory.awaitEnd(thread, Duration.ofSeconds(30))) {
      LOG.warn("fetcher of service {} did not stop within 30s", config.nodeId());
    }
  }

  private void loop() {
    long maxWaitNanos = config.maxPollInterval().toNanos();
    long backoffNanos = 0;
    while (!stopped) {
      long waitNanos = maxWaitNanos;
      try {
        int got = fetchOnce();
        backoffNanos = 0;
        if (got > 0) {
          continue; // what it brought may not be all the workers want: plan again
        }
      } catch (RuntimeException e) {
        // the dispatcher's round reports a store outage at WARN; a failure of the fetch alone is
        // told once per streak here
        if (backoffNanos == 0 && !node.inOutage) {
          LOG.warn(
              "service {} could not fetch jobs ahead ({}); retrying",
              config.nodeId(),
              e.toString());
        }
        LOG.debug("fetch failure", e);
        backoffNanos = Math.min(maxWaitNanos, Math.max(MIN_BACKOFF_NANOS, backoffNanos * 2));
        waitNanos = backoffNanos;
      } catch (Error e) {
        // e.g. an OutOfMemoryError: the fetcher must outlive it, or the node's refills stop
        LOG.error("fetcher of service {} caught an error; it carries on", config.nodeId(), e);
        waitNanos = config.pollInterval().toNanos();
      } finally {
        node.refillsDone();
      }
      node.refills.await(waitNanos);
    }
  }

  /** Fetches what {@link ClaimPlan#fetchPlan} asks for; returns how many jobs came. */
  private int fetchOnce() {
    if (node.state.get() != NodeState.State.RUNNING || node.inOutage || memory.paused()) {
      return 0;
    }
    Map<String, Integer> fetch = plan.fetchPlan(0);
    if (fetch.isEmpty()) {
      return 0;
    }
    Instant now = config.clock().instant();
    long claimNanos = System.nanoTime();
    List<ClaimedJob> got =
        store.claim(
            new ClaimRequest(
                config.nodeId(),
                0,
                now,
                now.plus(config.leaseDuration()),
                config.priorityAging(),
                noSlots,
                fetch,
                config.sharedRateLimits()));
    if (!(got instanceof RandomAccess)) {
      got = List.copyOf(got); // a store's own list type: read by index below
    }
    int tracked = 0; // the claims before this one are tracked
    boolean stranded = false;
    try {
      while (tracked < got.size()) {
        ClaimedJob claim = got.get(tracked);
        RunningJob job = runner.track(claim, claimNanos);
        tracked++;
        if (job != null) {
          breakers.claimed(job.batch.jobType(), claim.id());
          runner.queueFetched(job);
          stranded |= node.slotsOf(claim.batchId()) == 0;
        }
      }
    } finally {
      // a failure half-way (the batch settings could not be read) gives back what was not tracked
      for (ClaimedJob c : got.subList(tracked, got.size())) {
        node.outcomes.add(JobOutcome.released(c).withoutSlot());
      }
    }
    node.forgetEmptyFetches();
    if (stranded) {
      node.waiter.wake(); // the dispatcher's round gives back what no slot of this node can start
    }
    return got.size();
  }
}
