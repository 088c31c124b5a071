package io.batchkit.spi;

import io.batchkit.internal.util.Checks;
import java.util.List;

/**
 * What {@link JobStore#completeAndClaim} did: what recording the outcomes changed, then the jobs it
 * claimed.
 *
 * @param completion the rejected outcomes and the batches whose jobs changed, as {@link
 *     JobStore#complete} returns them
 * @param claimed the claimed jobs, as {@link JobStore#claim} returns them
 */
public record CompleteAndClaimResult(CompletionResult completion, List<ClaimedJob> claimed) {
  /**
   * Creates a result; copies the list.
   *
   * @throws NullPointerException if an argument is null
   */
  public CompleteAndClaimResult {
    Checks.notNull(completion, "completion");
    claimed = List.copyOf(Checks.notNull(claimed, "claimed"));
  }
}
