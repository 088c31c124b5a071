package io.batchkit;

import java.util.Map;

/**
 * What a {@link JobProcessor} knows about the job it runs. Valid only during that call; safe to use
 * from other threads the processor starts for the job.
 */
public interface JobContext {
  /** Returns the job's id: a good idempotency key for side effects. */
  JobId jobId();

  /** Returns the id of the job's batch. */
  BatchId batchId();

  /** Returns the job type. */
  String jobType();

  /** Returns the payload, exactly as it was given in the {@link BatchRequest}. */
  String payload();

  /** Returns which attempt this is, starting at 1. */
  int attempt();

  /** Returns the batch's metadata, unmodifiable. */
  Map<String, String> batchMetadata();

  /**
   * Reports how far the job has come. The report goes to the {@link BatchListener}s at once, and
   * the latest one is stored with the job ({@link Job#progress()}, seen by every node and the
   * dashboard) within a second or two: the service writes it with its next lease renewal, so a
   * processor may report as often as it likes without a write per report. It is cleared when the
   * attempt ends. A message over {@value JobProgress#MAX_MESSAGE_LENGTH} characters is cut, and
   * characters no store can keep (NUL, an unpaired surrogate) are replaced by U+FFFD.
   *
   * @param fraction from 0.0 to 1.0
   * @param message a short note for people (may be null); never put a secret or a payload here
   * @throws IllegalArgumentException if {@code fraction} is not within {@code [0, 1]} (or NaN)
   */
  void reportProgress(double fraction, String message);

  /**
   * Returns true once the job's batch was cancelled (or aborted by its failure policy) or the job
   * timed out. A long-running processor should check it and stop; its thread is interrupted too.
   */
  boolean isCancelled();
}
