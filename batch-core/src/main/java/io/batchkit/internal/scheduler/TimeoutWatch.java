package io.batchkit.internal.scheduler;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Job timeouts, for the {@link Dispatcher}'s round: a class of its own because it is the one step
 * of the round that needs no store, so that it runs during an outage too, and because the rules for
 * ending a job whose thread will not return are found more easily by name.
 *
 * <p>Ownership: it has no mutable state of its own and runs on the dispatcher thread only; the jobs
 * it watches are in {@link NodeState#running}, and a job it gives up on is ended by {@link
 * JobRunner#giveUp}, which claims the job's report first, so that the worker and this watch never
 * both end it.
 */
final class TimeoutWatch {
  /** Logs under the service's name, as it did before the service was split into parts. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private final ServiceConfig config;
  private final NodeState node;
  private final JobRunner runner;

  TimeoutWatch(ServiceConfig config, NodeState node, JobRunner runner) {
    this.config = config;
    this.node = node;
    this.runner = runner;
  }

  /**
   * Enforces job timeouts: interrupts the jobs whose attempt ran past their timeout, and gives back
   * the slots of jobs whose processor ignored its interrupt past the grace period (the job ends as
   * its stop reason says: timed out, failed or retried; cancelled, cancelled), abandoning their
   * thread. Returns the nanoseconds until the next such deadline.
   */
  long watchRunningJobs() {
    long grace = config.interruptGracePeriod().toNanos();
    long now = System.nanoTime();
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
