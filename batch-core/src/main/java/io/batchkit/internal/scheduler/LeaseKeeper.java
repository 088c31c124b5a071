package io.batchkit.internal.scheduler;

import io.batchkit.JobId;
import io.batchkit.JobProgress;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.JobStore;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leases of jobs: renews this node's ({@link #heartbeat}), with the progress its jobs reported,
 * stops the jobs whose lease was lost, and takes back expired leases of any node ({@link
 * #recoverExpiredLeases}). A class of its own so that what keeps a job owned by one node at a time
 * is found in one place; the {@link Dispatcher} decides when each runs (renewals every third of the
 * lease duration, or a second after the last while progress waits; the take-back every half lease).
 *
 * <p>Ownership: it has no mutable state of its own and runs on the dispatcher thread only; the
 * leases it renews are those of the jobs in {@link NodeState#running}.
 */
final class LeaseKeeper {
  /** Logs under the service's name, as it did before the service was split into parts. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private static final int MAX_EXPIRED_PER_CALL = 500;

  private final ServiceConfig config;
  private final JobStore store;
  private final NodeState node;
  private final JobRunner runner;

  LeaseKeeper(ServiceConfig config, NodeState node, JobRunner runner) {
    this.config = config;
    this.store = config.store();
    this.node = node;
    this.runner = runner;
  }

  /**
   * Renews the leases of every job this node holds, running or fetched ahead, and stores the
   * progress its jobs reported since the last renewal; stops the jobs whose lease was lost and
   * those whose cancellation the store asks for.
   */
  void heartbeat() {
    node.progressPending.set(false); // a report from now on asks for the next renewal
    if (node.running.isEmpty()) {
      return;
    }
    Map<JobId, Long> leases = new HashMap<>();
    Map<RunningJob, JobProgress> reports = new HashMap<>();
    for (RunningJob job : node.running.values()) {
      leases.put(job.claim.id(), job.claim.fencingToken());
      JobProgress report = job.progressToStore();
      if (report != null) {
        reports.put(job, report);
      }
    }
    Instant now = config.clock().instant();
    Instant leaseUntil = now.plus(config.leaseDuration());
    HeartbeatResult result;
    if (reports.isEmpty()) {
      result = store.heartbeat(config.nodeId(), leases, leaseUntil);
    } else {
      Map<JobId, JobProgress> progress = new HashMap<>();
      reports.forEach((job, report) -> progress.put(job.claim.id(), report));
      try {
        result = store.heartbeat(config.nodeId(), leases, leaseUntil, progress);
      } catch (RuntimeException | Error e) {
        node.progressPending.set(true); // the reports were not stored: again with the next one
        throw e;
      }
      reports.forEach(RunningJob::progressStored);
    }
    for (JobId id : result.lost()) {
      RunningJob job = node.running.get(id);
      if (job != null) {
        LOG.warn("{} lost its lease (another node may run it now); stopping it here", job);
        runner.stop(job, RunningJob.Stop.LOST);
      }
    }
    for (JobId id : result.cancelRequested()) {
      RunningJob job = node.running.get(id);
      if (job != null) {
        runner.stop(job, RunningJob.Stop.CANCELLED);
      }
    }
  }

  /** Takes back expired leases, of any node, so that their jobs run again. */
  void recoverExpiredLeases() {
    CompletionResult result = store.requeueExpired(config.clock().instant(), MAX_EXPIRED_PER_CALL);
    runner.afterChange(result.batches());
  }
}
