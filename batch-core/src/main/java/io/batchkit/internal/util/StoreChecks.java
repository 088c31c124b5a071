package io.batchkit.internal.util;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.JobProgress;
import io.batchkit.JobStatus;
import io.batchkit.Node;
import io.batchkit.Progress;
import io.batchkit.spi.NewJob;
import io.batchkit.spi.StoredRequest;
import java.time.Instant;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The argument checks of the {@code JobStore} methods, shared by every store in this project. */
public final class StoreChecks {
  private StoreChecks() {}

  /**
   * Checks a new batch and its jobs as the {@code insertBatch} contract states.
   *
   * @throws NullPointerException if an argument or a job is null
   * @throws IllegalArgumentException if the batch is not PENDING or PROCESSING, a PROCESSING batch
   *     has no start time, there are no jobs, the progress does not count every job as queued, or
   *     two jobs share an id
   */
  public static void newBatch(Batch batch, List<NewJob> jobs) {
    Checks.notNull(batch, "batch");
    Checks.notNull(jobs, "jobs");
    if (batch.status() != BatchStatus.PENDING && batch.status() != BatchStatus.PROCESSING) {
      throw new IllegalArgumentException(
          "a new batch must be PENDING or PROCESSING, was " + batch.status());
    }
    if (batch.status() == BatchStatus.PROCESSING && batch.startedAt().isEmpty()) {
      throw new IllegalArgumentException("a new PROCESSING batch must have a start time");
    }
    if (jobs.isEmpty()) {
      throw new IllegalArgumentException("a batch must have at least one job");
    }
    if (!batch.progress().equals(Progress.allQueued(jobs.size()))) {
      throw new IllegalArgumentException(
          "progress must count all " + jobs.size() + " jobs as queued, was " + batch.progress());
    }
    distinctIds(jobs);
  }

  /**
   * Throws if a job is null or two share an id; a set of ids is built only if they do not ascend.
   */
  private static void distinctIds(List<NewJob> jobs) {
    if (jobs instanceof NewJobs) {
      return; // a run of consecutive ids, made by the service: none is null or appears twice
    }
    boolean ascending = true; // then no id appears twice, and no set of them is needed
    JobId previous = null;
    for (NewJob job : jobs) {
      Checks.notNull(job, "job");
      ascending &= previous == null || previous.compareTo(job.id()) < 0;
      previous = job.id();
    }
    if (!ascending) {
      Set<JobId> ids = new HashSet<>();
      for (NewJob job : jobs) {
        if (!ids.add(job.id())) {
          throw new IllegalArgumentException("job id " + job.id() + " appears twice");
        }
      }
    }
  }

  /**
   * Checks the new jobs given to {@code addJobs}: none null, at least one, no id twice.
   *
   * @throws NullPointerException if an argument or a job is null
   * @throws IllegalArgumentException if there are no jobs or two share an id
   */
  public static void newJobs(List<NewJob> jobs) {
    Checks.notNull(jobs, "jobs");
    if (jobs.isEmpty()) {
      throw new IllegalArgumentException("jobs must hold at least one job");
    }
    distinctIds(jobs);
  }

  /**
   * The size rule of {@code addJobs}: the batch, which holds {@code held} jobs, may hold {@code
   * maxTotal}.
   */
  public static void canHold(BatchId id, long held, int adding, long maxTotal) {
    if (held + adding > maxTotal) {
      throw new IllegalArgumentException(
          "a batch may have at most "
              + maxTotal
              + " items; batch "
              + id
              + " would have "
              + (held + adding));
    }
  }

  /** The state rule of {@code addJobs}: jobs are added to a PENDING batch only. */
  public static void canAddJobs(BatchId id, BatchStatus status) {
    Checks.state(
        status == BatchStatus.PENDING,
        "cannot add items to batch "
            + id
            + ": it is "
            + status
            + "; only a PENDING batch takes more");
  }

  /** The state rule of {@code startBatch}: only a PENDING batch starts. */
  public static void canStart(BatchId id, BatchStatus status) {
    Checks.state(
        status == BatchStatus.PENDING,
        "batch " + id + " cannot be started: it is " + status + ", not PENDING");
  }

  /** The state rule of {@code cancelBatch}: a batch that already ended cannot be cancelled. */
  public static void canCancel(BatchId id, BatchStatus status) {
    Checks.state(
        !status.isFinal(), "batch " + id + " cannot be cancelled: it already ended " + status);
  }

  /** The state rule of {@code retryFailed}: a finished PARTIAL or FAILED batch with failed jobs. */
  public static void canRetryFailed(BatchId id, BatchStatus status, Progress progress) {
    Checks.state(
        (status == BatchStatus.PARTIAL || status == BatchStatus.FAILED) && progress.pending() == 0,
        "batch "
            + id
            + " cannot retry failed jobs: it is "
            + status
            + " with "
            + progress.pending()
            + " jobs pending; only a finished PARTIAL or FAILED batch can");
    Checks.state(progress.failed() > 0, "batch " + id + " has no failed jobs to retry");
  }

  /** The most jobs one {@code retryJobs} call queues again, so that its one step stays short. */
  public static final int MAX_RETRIED_JOBS = 1_000;

  /** Checks the ids of a {@code retryJobs} call: no null, at least one, at most 1,000. */
  public static void retriedJobs(Collection<JobId> ids) {
    Checks.notNull(ids, "ids");
    for (JobId id : ids) {
      Checks.notNull(id, "job id");
    }
    if (ids.isEmpty() || ids.size() > MAX_RETRIED_JOBS) {
      throw new IllegalArgumentException(
          "retryJobs takes 1 to " + MAX_RETRIED_JOBS + " job ids, was given " + ids.size());
    }
  }

  /**
   * The state rule of {@code retryJobs}: a {@code FAILED} job of a batch that runs, or of a
   * finished {@code PARTIAL} or {@code FAILED} batch.
   */
  public static void canRetryJob(
      JobId job, JobStatus status, BatchId batch, BatchStatus batchStatus, Progress progress) {
    Checks.state(
        status == JobStatus.FAILED,
        "job " + job + " cannot be retried: it is " + status + "; only a FAILED job can");
    boolean finished =
        (batchStatus == BatchStatus.PARTIAL || batchStatus == BatchStatus.FAILED)
            && progress.pending() == 0;
    Checks.state(
        batchStatus == BatchStatus.PROCESSING || finished,
        "job "
            + job
            + " cannot be retried: its batch "
            + batch
            + " is "
            + batchStatus
            + " with "
            + progress.pending()
            + " jobs pending; only a job of a running batch or of a finished PARTIAL or FAILED"
            + " batch can");
  }

  /** The state rule of {@code deleteBatch}: only a finished batch is deleted. */
  public static void canDelete(BatchId id, BatchStatus status, Progress progress) {
    Checks.state(
        status.isFinal() && progress.pending() == 0,
        "batch "
            + id
            + " cannot be deleted: it is "
            + status
            + " with "
            + progress.pending()
            + " jobs pending; only a finished batch can");
  }

  /**
   * Checks a node given to {@code registerNode} or {@code nodeHeartbeat}.
   *
   * @throws NullPointerException if {@code node} is null
   * @throws IllegalArgumentException if it is not LIVE
   */
  public static void liveNode(Node node) {
    Checks.notNull(node, "node");
    if (!node.isLive()) {
      throw new IllegalArgumentException("a registered node must be LIVE, was " + node.status());
    }
  }

  /**
   * Checks what {@code insertBatch} keeps of a request.
   *
   * @throws NullPointerException if {@code request} is null
   * @throws IllegalArgumentException if it gives a start time for a batch that is not PENDING
   */
  public static void storedRequest(Batch batch, StoredRequest request) {
    Checks.notNull(request, "request");
    if (request.startAt().isPresent() && batch.status() != BatchStatus.PENDING) {
      throw new IllegalArgumentException(
          "only a PENDING batch can have a scheduled start, was " + batch.status());
    }
  }

  /** Checks the progress reports of a heartbeat: no null map, key or value. */
  public static Map<JobId, JobProgress> progress(Map<JobId, JobProgress> progress) {
    Checks.notNull(progress, "progress");
    progress.forEach(
        (id, report) -> {
          Checks.notNull(id, "progress key");
          Checks.notNull(report, "progress of " + id);
        });
    return progress;
  }

  /**
   * Checks the arguments of {@code claimWebhookDeliveries}.
   *
   * @throws NullPointerException if a time is null
   * @throws IllegalArgumentException if {@code max} is not positive, or the lease ends before it
   *     starts
   */
  public static void webhookClaim(Instant now, Instant leaseUntil, int max) {
    Checks.notNull(now, "now");
    Checks.notNull(leaseUntil, "leaseUntil");
    Checks.positive(max, "max");
    if (!leaseUntil.isAfter(now)) {
      throw new IllegalArgumentException("leaseUntil must be after now");
    }
  }
}
