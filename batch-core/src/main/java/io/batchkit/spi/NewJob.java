package io.batchkit.spi;

import io.batchkit.JobId;
import io.batchkit.internal.util.Checks;

/**
 * A job to insert with its batch.
 *
 * @param id its id, made by the service
 * @param payload its payload, stored verbatim; the service never passes a NUL character (U+0000)
 */
public record NewJob(JobId id, String payload) {
  /**
   * Creates a new job.
   *
   * @throws NullPointerException if an argument is null
   */
  public NewJob {
    Checks.notNull(id, "id");
    Checks.notNull(payload, "payload");
  }

  /** Shows the id; never the payload, which no log line should carry. */
  @Override
  public String toString() {
    return "NewJob[id=" + id + "]";
  }
}
