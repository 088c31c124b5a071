package io.batchkit;

/** The life cycle of one job: {@code QUEUED -> PROCESSING -> SUCCEEDED | FAILED | CANCELLED}. */
public enum JobStatus {
  /** Waiting for a slot, or for its retry time. */
  QUEUED,
  /** Running on some node. */
  PROCESSING,
  /** Its processor returned normally. */
  SUCCEEDED,
  /** Every attempt failed. */
  FAILED,
  /** Cancelled before or while it ran. */
  CANCELLED;

  /** Returns true for the statuses a job ends in. */
  public boolean isFinal() {
    return this == SUCCEEDED || this == FAILED || this == CANCELLED;
  }
}
