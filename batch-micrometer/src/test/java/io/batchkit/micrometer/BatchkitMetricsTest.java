package io.batchkit.micrometer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.TestServices;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.distribution.ValueAtPercentile;
import io.micrometer.core.instrument.observation.DefaultMeterObservationHandler;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.micrometer.observation.tck.TestObservationRegistry;
import io.micrometer.observation.tck.TestObservationRegistryAssert;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The meters and observations through a real service (in-memory store), read from a {@link
 * SimpleMeterRegistry} and a {@link TestObservationRegistry}.
 */
class BatchkitMetricsTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();
  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  @AfterEach
  void tearDown() {
    services.closeAll();
  }

  /** Payload "ok" succeeds, "fail" fails, "slow" waits until it is interrupted. */
  private BatchService service(BatchkitMetrics metrics) {
    CountDownLatch never = services.gate();
    BatchService service =
        services.start(
            BatchService.builder()
                .discoverProcessors(false)
                .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(2))
                .listener(metrics)
                .processor(
                    "work",
                    ctx -> {
                      switch (ctx.payload()) {
                        case "fail" -> throw new IllegalStateException("refused");
                        case "slow" -> never.await(); // until a time-out or a cancel stops it
                        default -> {}
                      }
                      return "done";
                    }));
    metrics.watch(service);
    metrics.bindTo(registry);
    return service;
  }

  @Test
  void attemptsAndBatches_areCountedByTypeOutcomeAndStatus_withDurations() {
    BatchkitMetrics metrics = BatchkitMetrics.builder().publishPercentiles(0.5, 0.95).build();
    BatchService service = service(metrics);

    Batch batch =
        service.submit(
            BatchRequest.builder("work")
                .items(List.of("ok", "ok", "ok", "fail"))
                .maxAttempts(2)
                .build());
    service.awaitCompletion(batch.id(), WAIT);
    // batchFinished runs on the thread that finished the batch, which awaitCompletion does not
    // wait for: the counter may exist before it counts the batch
    Await.until(
        "the batch was counted",
        () -> {
          Counter partial =
              registry.find(BatchkitMetrics.BATCHES_FINISHED).tag("status", "partial").counter();
          return partial != null && partial.count() > 0;
        });

    assertEquals(3.0, count("work", "succeeded"));
    assertEquals(1.0, count("work", "retried"));
    assertEquals(1.0, count("work", "failed"));
    assertEquals(
        1.0,
        registry.get(BatchkitMetrics.BATCHES_FINISHED).tag("status", "partial").counter().count());
    Timer duration = registry.get(BatchkitMetrics.JOB_DURATION).tag("type", "work").timer();
    assertEquals(5, duration.count(), "every attempt with an outcome");
    ValueAtPercentile[] published = duration.takeSnapshot().percentileValues();
    assertEquals(2, published.length);
    assertEquals(0.5, published[0].percentile());
  }

  @Test
  void timedOutAndCancelledAttempts_haveTheirOwnOutcomes() throws Exception {
    BatchkitMetrics metrics = new BatchkitMetrics();
    BatchService service = service(metrics);

    Batch timedOut =
        service.submit(
            BatchRequest.builder("work")
                .items(List.of("slow"))
                .maxAttempts(1)
                .jobTimeout(Duration.ofMillis(100))
                .build());
    service.awaitCompletion(timedOut.id(), WAIT);
    Batch cancelled = service.submit(BatchRequest.builder("work").items(List.of("slow")).build());
    Await.until(
        "the job runs", () -> service.getBatch(cancelled.id()).progress().processing() == 1);
    service.cancelBatch(cancelled.id());
    service.awaitCompletion(cancelled.id(), WAIT);

    Await.until("both counted", () -> count("work", "cancelled") == 1.0);
    assertEquals(1.0, count("work", "timed-out"));
    assertEquals(0.0, count("work", "failed"));
  }

  @Test
  void gauges_readTheWatchedService_runningAndQueued() throws Exception {
    BatchkitMetrics metrics = new BatchkitMetrics();
    CountDownLatch gate = services.gate();
    BatchService service =
        services.start(
            BatchService.builder()
                .discoverProcessors(false)
                .maxConcurrency(2)
                .listener(metrics)
                .processor(
                    "held",
                    ctx -> {
                      gate.await();
                      return null;
                    }));
    assertTrue(Double.isNaN(gauge(metrics, BatchkitMetrics.JOBS_RUNNING)), "not watching yet");
    metrics.watch(service);
    metrics.bindTo(registry);

    service.submit(
        BatchRequest.builder("held").items(TestServices.items(5)).maxConcurrency(2).build());

    Await.until(
        "two run and three wait",
        () ->
            registry.get(BatchkitMetrics.JOBS_RUNNING).gauge().value() == 2.0
                && registry.get(BatchkitMetrics.JOBS_QUEUED).gauge().value() == 3.0);
    gate.countDown();
  }

  @Test
  void observations_oneAttemptEach_withTheTypeAndOutcome_andNoIdAsAMeterTag() {
    TestObservationRegistry observations = TestObservationRegistry.create();
    observations
        .observationConfig()
        .observationHandler(new DefaultMeterObservationHandler(registry));
    BatchkitMetrics metrics = BatchkitMetrics.builder().observationRegistry(observations).build();
    BatchService service = service(metrics);

    Batch batch =
        service.submit(
            BatchRequest.builder("work").items(List.of("ok", "fail")).maxAttempts(1).build());
    service.awaitCompletion(batch.id(), WAIT);
    Await.until("both attempts counted", () -> count("work", "failed") == 1.0);

    TestObservationRegistryAssert.assertThat(observations)
        .hasNumberOfObservationsWithNameEqualTo(BatchkitMetrics.JOB_OBSERVATION, 2)
        .hasAnObservationWithAKeyValue("outcome", "succeeded")
        .hasAnObservationWithAKeyValue("outcome", "failed")
        .hasAnObservationWithAKeyValue("batch.id", batch.id().toString());
    for (Meter meter : registry.getMeters()) {
      for (Tag tag : meter.getId().getTags()) {
        assertFalse(tag.getKey().contains("id"), meter.getId() + " has an id tag");
        assertFalse(tag.getValue().equals(batch.id().toString()), meter.getId().toString());
      }
    }
  }

  @Test
  void bindingTheSameRegistryTwice_countsOnce_andBadSettingsAreRefused() {
    BatchkitMetrics metrics = new BatchkitMetrics();
    BatchService service = service(metrics);
    metrics.bindTo(registry);

    Batch batch = service.submit(BatchRequest.builder("work").items(List.of("ok")).build());
    service.awaitCompletion(batch.id(), WAIT);
    Await.until("counted", () -> count("work", "succeeded") == 1.0);

    assertThrows(
        IllegalArgumentException.class, () -> BatchkitMetrics.builder().publishPercentiles(1.5));
    assertThrows(NullPointerException.class, () -> metrics.bindTo(null));
    assertThrows(NullPointerException.class, () -> metrics.watch(null));
  }

  private double count(String type, String outcome) {
    var counter =
        registry
            .find(BatchkitMetrics.JOBS_FINISHED)
            .tag("type", type)
            .tag("outcome", outcome)
            .counter();
    return counter == null ? 0.0 : counter.count();
  }

  private static double gauge(BatchkitMetrics metrics, String name) {
    SimpleMeterRegistry own = new SimpleMeterRegistry();
    metrics.bindTo(own);
    return own.get(name).gauge().value();
  }
}
