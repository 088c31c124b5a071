package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.util.Optional;

/**
 * A snapshot of one job of a batch. Immutable.
 *
 * @param id the job's id
 * @param batchId the batch it belongs to
 * @param status its status
 * @param attempt how many times it has been started (0 while it never ran)
 * @param payload the item it was created from, exactly as given
 * @param result what its processor returned, once it succeeded
 * @param error why its last attempt failed, if it did
 * @param startedAt when its latest attempt started, if one did; empty again after a claim that was
 *     given back before it started (the attempt it shows is then in its history)
 * @param finishedAt when it reached its final status, if it has
 * @param updatedAt when it last changed
 * @param nodeId the node running it, or that ran its latest attempt
 * @param progress the latest progress its running attempt reported ({@link JobProgress}); empty
 *     when it is not running, or reported none yet
 */
public record Job(
    JobId id,
    BatchId batchId,
    JobStatus status,
    int attempt,
    String payload,
    Optional<String> result,
    Optional<String> error,
    Optional<Instant> startedAt,
    Optional<Instant> finishedAt,
    Instant updatedAt,
    Optional<String> nodeId,
    Optional<JobProgress> progress) {

  /**
   * Creates a snapshot.
   *
   * @throws NullPointerException if any component is null
   * @throws IllegalArgumentException if {@code attempt} is negative
   */
  public Job {
    Checks.notNull(id, "id");
    Checks.notNull(batchId, "batchId");
    Checks.notNull(status, "status");
    Checks.notNegative(attempt, "attempt");
    Checks.notNull(payload, "payload");
    Checks.notNull(result, "result");
    Checks.notNull(error, "error");
    Checks.notNull(startedAt, "startedAt");
    Checks.notNull(finishedAt, "finishedAt");
    Checks.notNull(updatedAt, "updatedAt");
    Checks.notNull(nodeId, "nodeId");
    Checks.notNull(progress, "progress");
  }

  /**
   * Creates a snapshot without progress.
   *
   * @throws NullPointerException if any argument is null
   * @throws IllegalArgumentException if {@code attempt} is negative
   */
  public Job(
      JobId id,
      BatchId batchId,
      JobStatus status,
      int attempt,
      String payload,
      Optional<String> result,
      Optional<String> error,
      Optional<Instant> startedAt,
      Optional<Instant> finishedAt,
      Instant updatedAt,
      Optional<String> nodeId) {
    this(
        id,
        batchId,
        status,
        attempt,
        payload,
        result,
        error,
        startedAt,
        finishedAt,
        updatedAt,
        nodeId,
        Optional.empty());
  }

  /**
   * Shows the ids, status, attempt, times and node; not the progress, and never the payload, the
   * result or the error, which are the user's data (an error may quote the payload) and which no
   * log line should carry by accident.
   */
  @Override
  public String toString() {
    return "Job[id="
        + id
        + ", batchId="
        + batchId
        + ", status="
        + status
        + ", attempt="
        + attempt
        + ", startedAt="
        + startedAt.map(Instant::toString).orElse("-")
        + ", finishedAt="
        + finishedAt.map(Instant::toString).orElse("-")
        + ", updatedAt="
        + updatedAt
        + ", nodeId="
        + nodeId.orElse("-")
        + "]";
  }
}
