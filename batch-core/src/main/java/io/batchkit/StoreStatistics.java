package io.batchkit;

/**
 * Figures over the whole store, every node that shares it included: part of {@link
 * BatchService#statistics()}.
 *
 * @param queued jobs queued in started batches; exact (the batches' counters)
 * @param running jobs leased to a node in started batches, fetched ahead included; exact (the
 *     batches' counters)
 * @param succeededLastHour jobs that succeeded in the last hour; an estimate, the sum of what each
 *     node that reported within the hour counted in the hour before its last report (every five
 *     seconds while it runs), so a node that ended within the hour adds some jobs of the hour
 *     before
 * @param failedLastHour jobs that failed for good (no attempt left) in the last hour; an estimate,
 *     as {@code succeededLastHour}. Both count what the nodes' processors concluded: a job the
 *     store failed because its lease expired with no attempt left is not counted, and a success
 *     whose outcome the store then turned into a cancellation (its batch ended meanwhile) is
 */
public record StoreStatistics(
    long queued, long running, long succeededLastHour, long failedLastHour) {

  /**
   * Creates figures.
   *
   * @throws IllegalArgumentException if a figure is negative
   */
  public StoreStatistics {
    if (queued < 0 || running < 0 || succeededLastHour < 0 || failedLastHour < 0) {
      throw new IllegalArgumentException(
          "figures must not be negative: queued "
              + queued
              + ", running "
              + running
              + ", succeeded "
              + succeededLastHour
              + ", failed "
              + failedLastHour);
    }
  }

  /**
   * Returns the share of the jobs that ended in the last hour that failed for good, from 0 to 1 (0
   * when none ended); an estimate, as its two counts are.
   */
  public double failureRateLastHour() {
    long ended = succeededLastHour + failedLastHour;
    return ended == 0 ? 0 : (double) failedLastHour / ended;
  }
}
