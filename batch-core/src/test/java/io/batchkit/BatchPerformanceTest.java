package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A batch's throughput and job durations ({@link BatchService#getBatchPerformance}). */
@Timeout(60)
class BatchPerformanceTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  @Test
  void aFinishedBatch_countsItsEndedJobs_andTakesPercentilesFromEachOfThem() {
    BatchService service =
        services.start(
            BatchService.builder()
                .defaultMaxAttempts(1)
                .processor(
                    "t",
                    ctx -> {
                      Thread.sleep(2);
                      if (ctx.payload().startsWith("fail")) {
                        throw new IllegalStateException("refused");
                      }
                      return "ok";
                    }));
    Batch batch =
        service.submit(BatchRequest.builder("t").items(List.of("a", "b", "c", "fail-d")).build());
    Batch done = service.awaitCompletion(batch.id(), WAIT);

    BatchPerformance figures = service.getBatchPerformance(batch.id());

    assertEquals(batch.id(), figures.batchId());
    assertEquals(4, figures.ended());
    assertEquals(4, figures.sampled());
    assertEquals(
        Duration.between(done.startedAt().orElseThrow(), done.completedAt().orElseThrow()),
        figures.running());
    assertEquals(4 / (figures.running().toNanos() / 1e9), figures.throughputPerSecond(), 1e-6);
    assertTrue(figures.p50().compareTo(figures.p95()) <= 0, figures.toString());
    assertTrue(figures.p95().compareTo(figures.p99()) <= 0, figures.toString());
    assertFalse(figures.p50().isZero(), "each job slept: " + figures);
    assertEquals(figures, service.getBatchPerformance(batch.id()), "a finished batch stays put");
  }

  @Test
  void theStoresFigures_countEveryNodesJobs_asTheNodesReportThem() {
    JobStore store = JobStore.inMemory();
    JobProcessor refuseFails =
        ctx -> {
          if (ctx.payload().startsWith("fail")) {
            throw new IllegalStateException("refused");
          }
          return "ok";
        };
    BatchService one =
        services.start(
            BatchService.builder().store(store).defaultMaxAttempts(1).processor("t", refuseFails));
    BatchService other =
        services.start(BatchService.builder().store(store).processor("t", refuseFails));
    Batch batch =
        one.submit(BatchRequest.builder("t").items(List.of("a", "b", "c", "fail-d")).build());
    one.awaitCompletion(batch.id(), WAIT);

    // each node reports its last hour with its heartbeat, every five seconds
    Await.until(
        "both nodes reported",
        () ->
            other
                .statistics()
                .store()
                .map(s -> s.succeededLastHour() + s.failedLastHour() == 4)
                .orElse(false));
    StoreStatistics figures = other.statistics().store().orElseThrow();
    assertEquals(0, figures.queued());
    assertEquals(0, figures.running());
    assertEquals(1, figures.failedLastHour(), figures.toString());
    assertEquals(0.25, figures.failureRateLastHour(), 1e-9);
  }

  @Test
  void aBatchThatDidNotStart_hasNoFigures_andBadInputIsRefused() {
    BatchService service = services.start(BatchService.builder().processor("t", ctx -> "ok"));
    Batch pending = service.createBatch(BatchRequest.builder("t").item("x").build());

    assertEquals(
        new BatchPerformance(
            pending.id(), 0, Duration.ZERO, 0, 0, Duration.ZERO, Duration.ZERO, Duration.ZERO),
        service.getBatchPerformance(pending.id()));
    assertThrows(BatchNotFoundException.class, () -> service.getBatchPerformance(BatchId.random()));
    assertThrows(NullPointerException.class, () -> service.getBatchPerformance(null));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new BatchPerformance(
                pending.id(),
                -1,
                Duration.ZERO,
                0,
                0,
                Duration.ZERO,
                Duration.ZERO,
                Duration.ZERO));
  }
}
