package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchPerformance;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.JobStatus;
import io.batchkit.Priority;
import io.batchkit.Progress;
import java.time.Duration;
import java.time.Instant;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The weighting of the duration sample ({@link BatchFigures}). */
class BatchFiguresTest {
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  @Test
  void eachSampledDurationStandsForTheJobsOfItsStatus_soFewSlowFailuresStayInTheTail() {
    // a million quick successes and twenty thousand slow time-outs, 10,000 of each sampled
    Batch batch = finished(1_000_000, 20_000, Duration.ofSeconds(1_000));
    Map<JobStatus, List<Duration>> sample =
        Map.of(
            JobStatus.SUCCEEDED, Collections.nCopies(10_000, Duration.ofMillis(1)),
            JobStatus.FAILED, Collections.nCopies(10_000, Duration.ofSeconds(10)));

    BatchPerformance figures = BatchFigures.of(batch, sample, T0.plusSeconds(5_000));

    assertEquals(Duration.ofMillis(1), figures.p50());
    assertEquals(Duration.ofMillis(1), figures.p95(), "2 % of the jobs are slow, not half");
    assertEquals(Duration.ofSeconds(10), figures.p99());
    assertEquals(20_000, figures.sampled());
    assertEquals(1_020_000, figures.ended());
    assertEquals(Duration.ofSeconds(1_000), figures.running());
    assertEquals(1_020.0, figures.throughputPerSecond(), 1e-9);
  }

  @Test
  void aRunningBatchIsMeasuredToNow_andAnEmptySampleGivesZeros() {
    Batch running = finished(10, 0, null);
    BatchPerformance figures =
        BatchFigures.of(
            running,
            Map.of(JobStatus.SUCCEEDED, List.of(), JobStatus.FAILED, List.of()),
            T0.plusSeconds(20));
    assertEquals(Duration.ofSeconds(20), figures.running());
    assertEquals(0.5, figures.throughputPerSecond(), 1e-9);
    assertEquals(Duration.ZERO, figures.p99());
    assertEquals(0, figures.sampled());
  }

  /** A batch started at T0 with these ended jobs, completed after {@code ran} (null: running). */
  private static Batch finished(long succeeded, long failed, Duration ran) {
    long total = succeeded + failed + (ran == null ? 1 : 0);
    Progress progress = new Progress(total, ran == null ? 1 : 0, 0, succeeded, failed, 0);
    return new Batch(
        BatchId.random(),
        "figures",
        "t",
        Priority.NORMAL,
        Map.of(),
        3,
        1,
        Duration.ofMinutes(1),
        FailurePolicy.never(),
        Optional.empty(),
        ran == null ? BatchStatus.PROCESSING : BatchStatus.PARTIAL,
        progress,
        T0,
        Optional.of(T0),
        T0,
        ran == null ? Optional.empty() : Optional.of(T0.plus(ran)),
        Optional.empty());
  }
}
