package io.batchkit.internal.scheduler;

import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Job timeouts, for the {@link Dispatcher}'s round: a class of its own because it is the one step
 * of the round that needs no store, so that it runs during an outage too, and because the rules for
 * ending a job whose thread will not return are found more easily by name.
 *
 * <p>The jobs it watches include those fetched ahead, hundreds of them on a busy node, and the
 * dispatcher's round runs thousands of times a second there; so it looks at them only when the
 * earliest deadline it knows of comes, and otherwise at most once every {@link #MIN_SCAN_GAP}. A
 * job that starts with an earlier deadline than the ones it saw, or that is told to stop (whose
 * slot it gives back after the grace period), is therefore seen at most that much late.
 *
 * <p>Ownership: its fields are the dispatcher's: it runs on the dispatcher thread only; the jobs it
 * watches are in {@link NodeState#running}, and a job it gives up on is ended by {@link
 * JobRunner#giveUp}, which claims the job's report first, so that the worker and this watch never
 * both end it.
 */
final class TimeoutWatch {
  /** Logs under the service's name, as it did before the service was split into parts. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  /** The shortest time between two looks at the running jobs, unless a deadline falls due. */
  static final long MIN_SCAN_GAP = TimeUnit.MILLISECONDS.toNanos(10);

  private final ServiceConfig config;
  private final NodeState node;
  private final JobRunner runner;

  /** When it last looked (System.nanoTime); valid once {@link #scanned}. */
  private long lastScanNanos;

  /** The earliest deadline the last look found (System.nanoTime); valid once {@link #scanned}. */
  private long nextDeadlineNanos;

  private boolean scanned;

  TimeoutWatch(ServiceConfig config, NodeState node, JobRunner runner) {
    this.config = config;
    this.node = node;
    this.runner = runner;
  }

  /**
   * Enforces job timeouts: interrupts the jobs whose attempt ran past their timeout, and gives back
   * the slots of jobs whose processor ignored its interrupt past the grace period (the job ends as
   * its stop reason says: timed out, failed or retried; cancelled, cancelled), abandoning their
   * thread. Returns the nanoseconds until it should be called again: the next such deadline, or
   * less.
   */
  long watchRunningJobs() {
    long now = System.nanoTime();
    if (scanned && now - lastScanNanos < MIN_SCAN_GAP && now - nextDeadlineNanos < 0) {
      return Math.min(nextDeadlineNanos, lastScanNanos + MIN_SCAN_GAP) - now;
    }
    long next = scan(now);
    scanned = true;
    lastScanNanos = now;
    nextDeadlineNanos = now + Math.min(next, Long.MAX_VALUE / 4);
    return next;
  }

  /** Looks at every running job; returns the nanoseconds until the next deadline. */
  private long scan(long now) {
    long grace = config.interruptGracePeriod().toNanos();
    long next = Long.MAX_VALUE;
    for (RunningJob job : node.running.values()) {
      if (!job.isStarted() || job.isReported()) {
        continue; // fetched ahead (nothing runs yet), or ended (its listeners are being told)
      }
      if (!job.isCancelled()) {
        long untilTimeout = job.deadlineNanos() - now;
        if (untilTimeout > 0) {
          next = Math.min(next, untilTimeout);
          continue;
        }
        LOG.debug("{} timed out after {}; interrupting it", job, job.batch.jobTimeout());
        job.stop(RunningJob.Stop.TIMED_OUT);
      }
      long at = job.abandonAtNanos(grace);
      if (at - now > 0) {
        next = Math.min(next, at - now);
        continue;
      }
      runner.giveUp(job);
    }
    return next;
  }
}
