package io.batchkit;

/** What {@link BatchService#extend} found when a worker asked for more time for a leased job. */
public enum LeaseState {
  /** The worker still holds the lease, which now runs until the new expiry: carry on. */
  HELD,
  /**
   * The job's batch was cancelled (or stopped by its failure policy): the worker should stop and
   * report, with {@link BatchService#fail} or {@link BatchService#complete}, either of which the
   * service records as {@link JobStatus#CANCELLED}; a lease left to run out ends the same way.
   */
  CANCELLED,
  /**
   * The worker no longer holds the lease: it ran out and the job was given back to the queue (and
   * perhaps leased again), or the job was already reported. Anything this worker reports about it
   * is refused, so it should drop the job.
   */
  LOST
}
