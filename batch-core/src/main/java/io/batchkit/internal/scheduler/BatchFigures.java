package io.batchkit.internal.scheduler;

import io.batchkit.Batch;
import io.batchkit.BatchPerformance;
import io.batchkit.BatchStatus;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Turns a batch and a sample of its jobs' durations into its {@link BatchPerformance}, and a
 * running batch's progress into its estimated time left ({@link #estimate}). A class of its own
 * because it is a pure function, and because weighting the sample is easy to get wrong: the store
 * samples up to the same number of succeeded and failed jobs, so each duration stands for as many
 * jobs of its status as that status has per sampled duration; a batch of a million quick successes
 * and a thousand slow time-outs must not read as half slow.
 *
 * <p>Ownership: it has no state; any thread may call it.
 */
final class BatchFigures {
  private BatchFigures() {}

  /**
   * @param durations the store's sample, by status (see {@code JobStore.jobDurations})
   * @param now the time a running batch is measured to
   */
  static BatchPerformance of(Batch batch, Map<JobStatus, List<Duration>> durations, Instant now) {
    Instant end = batch.completedAt().orElse(now);
    Duration running =
        batch
            .startedAt()
            .map(start -> Duration.between(start, end))
            .filter(d -> !d.isNegative())
            .orElse(Duration.ZERO);
    long succeeded = batch.progress().succeeded();
    long failed = batch.progress().failed();
    long ended = succeeded + failed;
    double perSecond = running.isZero() ? 0 : ended / (running.toNanos() / 1e9);
    List<Duration> fromSucceeded = durations.getOrDefault(JobStatus.SUCCEEDED, List.of());
    List<Duration> fromFailed = durations.getOrDefault(JobStatus.FAILED, List.of());
    int sampled = fromSucceeded.size() + fromFailed.size();
    double[][] weighted = new double[sampled][];
    int i = 0;
    for (Duration d : fromSucceeded) {
      weighted[i++] = new double[] {nanos(d), weight(succeeded, fromSucceeded.size())};
    }
    for (Duration d : fromFailed) {
      weighted[i++] = new double[] {nanos(d), weight(failed, fromFailed.size())};
    }
    Arrays.sort(weighted, Comparator.comparingDouble(w -> w[0]));
    return new BatchPerformance(
        batch.id(),
        ended,
        running,
        perSecond,
        sampled,
        at(weighted, 0.50),
        at(weighted, 0.95),
        at(weighted, 0.99));
  }

  /** Nanoseconds, never negative: nodes' clocks may differ a little. */
  private static double nanos(Duration d) {
    return Math.max(0, d.toNanos());
  }

  /** How many jobs of a status each of its sampled durations stands for. */
  private static double weight(long jobs, int sampled) {
    return sampled == 0 ? 0 : Math.max(1.0, (double) jobs / sampled);
  }

  /** The weighted nearest-rank {@code quantile} of {@code sorted} (nanoseconds, weight) pairs. */
  static Duration at(double[][] sorted, double quantile) {
    double total = 0;
    for (double[] pair : sorted) {
      total += pair[1];
    }
    if (total == 0) {
      return Duration.ZERO;
    }
    double rank = quantile * total;
    double seen = 0;
    for (double[] pair : sorted) {
      seen += pair[1];
      if (seen >= rank) {
        return Duration.ofNanos((long) pair[0]);
      }
    }
    return Duration.ofNanos((long) sorted[sorted.length - 1][0]);
  }

  /** Returns the time left at the rate the batch has finished jobs since it started. */
  static Optional<Duration> estimate(Batch batch, Instant now) {
    if (batch.status() != BatchStatus.PROCESSING || batch.startedAt().isEmpty()) {
      return Optional.empty();
    }
    Progress progress = batch.progress();
    long elapsedMillis = Duration.between(batch.startedAt().get(), now).toMillis();
    if (progress.finished() == 0 || elapsedMillis <= 0) {
      return Optional.empty();
    }
    double millisPerJob = (double) elapsedMillis / progress.finished();
    return Optional.of(Duration.ofMillis(Math.round(millisPerJob * progress.pending())));
  }
}
