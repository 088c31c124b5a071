package io.batchkit.spi;

import io.batchkit.BatchStatus;
import io.batchkit.Progress;
import io.batchkit.internal.util.Checks;

/**
 * The rule for a batch's final status, which every {@link JobStore} applies in the same atomic step
 * as the job transition that decides it.
 *
 * <table>
 *   <caption>Final status</caption>
 *   <tr><th>situation</th><th>status</th></tr>
 *   <tr><td>cancelled by a user</td><td>CANCELLED, whatever finished before</td></tr>
 *   <tr><td>the failure policy tripped</td><td>FAILED</td></tr>
 *   <tr><td>every job succeeded</td><td>COMPLETED</td></tr>
 *   <tr><td>some succeeded, the others failed or were cancelled</td><td>PARTIAL</td></tr>
 *   <tr><td>none succeeded</td><td>FAILED</td></tr>
 * </table>
 */
public final class BatchStatusRule {
  private BatchStatusRule() {}

  /**
   * Returns the final status of a batch whose jobs have all ended (or that was just cancelled or
   * aborted).
   *
   * @param progress the batch's counts
   * @param cancelledByUser whether a user cancelled the batch
   * @param failurePolicyTripped whether the batch's failure policy aborted it
   * @throws NullPointerException if {@code progress} is null
   * @throws IllegalArgumentException if neither flag is set and jobs are still pending
   */
  public static BatchStatus finalStatus(
      Progress progress, boolean cancelledByUser, boolean failurePolicyTripped) {
    Checks.notNull(progress, "progress");
    if (cancelledByUser) {
      return BatchStatus.CANCELLED;
    }
    if (failurePolicyTripped) {
      return BatchStatus.FAILED;
    }
    if (progress.pending() > 0) {
      throw new IllegalArgumentException(
          "a batch with pending jobs has no final status yet: " + progress);
    }
    if (progress.succeeded() == progress.total()) {
      return BatchStatus.COMPLETED;
    }
    return progress.succeeded() > 0 ? BatchStatus.PARTIAL : BatchStatus.FAILED;
  }
}
