package io.batchkit;

/** Thrown when a job id names no job in the service's store (or its batch was deleted). */
public class JobNotFoundException extends BatchException {
  private static final long serialVersionUID = 1L;

  private final transient JobId jobId;

  /** Creates the exception for {@code jobId}. */
  public JobNotFoundException(JobId jobId) {
    super("job " + jobId + " not found");
    this.jobId = jobId;
  }

  /** Returns the id that was not found. */
  public JobId jobId() {
    return jobId;
  }
}
