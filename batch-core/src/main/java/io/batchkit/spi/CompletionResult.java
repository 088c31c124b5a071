package io.batchkit.spi;

import io.batchkit.Batch;
import io.batchkit.JobId;
import io.batchkit.internal.util.Checks;
import java.util.List;
import java.util.Set;

/**
 * What {@link JobStore#complete} or {@link JobStore#requeueExpired} changed.
 *
 * @param rejected the jobs whose outcome was refused because the fencing token was no longer
 *     current (the lease was lost); nothing was written for them
 * @param batches a snapshot, taken after the call, of every batch whose jobs changed
 */
public record CompletionResult(Set<JobId> rejected, List<Batch> batches) {
  /**
   * Creates a result; copies the collections.
   *
   * @throws NullPointerException if an argument is null
   */
  public CompletionResult {
    rejected = Set.copyOf(Checks.notNull(rejected, "rejected"));
    batches = List.copyOf(Checks.notNull(batches, "batches"));
  }
}
