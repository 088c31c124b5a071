package io.batchkit.spi;

import io.batchkit.JobId;
import io.batchkit.internal.util.Checks;
import java.util.Set;

/**
 * What {@link JobStore#heartbeat} found.
 *
 * @param lost jobs whose lease this node no longer holds: their outcome will be rejected
 * @param cancelRequested jobs still leased to this node whose batch was cancelled or aborted: the
 *     node should stop them
 */
public record HeartbeatResult(Set<JobId> lost, Set<JobId> cancelRequested) {
  /**
   * Creates a result; copies the sets.
   *
   * @throws NullPointerException if an argument is null
   */
  public HeartbeatResult {
    lost = Set.copyOf(Checks.notNull(lost, "lost"));
    cancelRequested = Set.copyOf(Checks.notNull(cancelRequested, "cancelRequested"));
  }
}
