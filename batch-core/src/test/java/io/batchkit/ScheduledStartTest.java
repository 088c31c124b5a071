package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Scheduled starts ({@code BatchRequest.Builder.startAt}): the batch waits {@code PENDING} until
 * its time on the service's clock, then starts on whichever service is up; {@code startBatch}
 * before that starts it at once; a time already past starts it at once.
 */
class ScheduledStartTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();
  private final MutableClock clock = new MutableClock();
  private final List<String> started = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() {
    services.closeAll();
  }

  @Test
  void aBatchWaitsForItsTime_evenWhenSubmitted_thenRunsOnTheServiceThatIsUp() {
    JobStore store = JobStore.inMemory();
    BatchService first = start(store);
    Instant at = clock.instant().plus(Duration.ofHours(1));
    Batch batch =
        first.submit(BatchRequest.builder("t").items(List.of("a", "b")).startAt(at).build());
    assertEquals(BatchStatus.PENDING, batch.status());
    first.close(); // the schedule is in the store, not in the service that took the request

    BatchService second = start(store);
    clock.advance(Duration.ofMinutes(59));
    assertEquals(BatchStatus.PENDING, second.getBatch(batch.id()).status());

    clock.advance(Duration.ofMinutes(1));
    Batch done = second.awaitCompletion(batch.id(), WAIT);
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(at, done.startedAt().orElseThrow());
    Await.until("batchStarted was heard", () -> started.contains(batch.id().toString()));
  }

  @Test
  void startBatch_beforeItsTime_startsItAtOnce_andTheScheduleDoesNothingMore() {
    BatchService service = start(JobStore.inMemory());
    Batch batch =
        service.createBatch(
            BatchRequest.builder("t")
                .item("x")
                .startAt(clock.instant().plus(Duration.ofDays(1)))
                .build());

    service.startBatch(batch.id());

    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());
    clock.advance(Duration.ofDays(2));
    assertEquals(BatchStatus.COMPLETED, service.getBatch(batch.id()).status());
  }

  @Test
  void theSameKeyedRequestSubmittedAgain_doesNotStartTheBatchBeforeItsTime() {
    BatchService service = start(JobStore.inMemory());
    BatchRequest request =
        BatchRequest.builder("t")
            .item("x")
            .idempotencyKey("nightly")
            .startAt(clock.instant().plus(Duration.ofHours(2)))
            .build();
    Batch first = service.submit(request);

    Batch again = service.submit(request);

    assertEquals(first.id(), again.id());
    assertEquals(BatchStatus.PENDING, service.getBatch(first.id()).status());
  }

  @Test
  void aTimeAlreadyPast_startsTheBatchAtOnce() {
    BatchService service = start(JobStore.inMemory());
    Batch batch =
        service.createBatch(
            BatchRequest.builder("t").item("x").startAt(clock.instant().minusSeconds(1)).build());

    assertEquals(BatchStatus.PROCESSING, batch.status());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());
  }

  private BatchService start(JobStore store) {
    return services.start(
        BatchService.builder()
            .store(store)
            .clock(clock)
            .processor("t", ctx -> "ok")
            .listener(
                new BatchListener() {
                  @Override
                  public void batchStarted(Batch batch) {
                    started.add(batch.id().toString());
                  }
                }));
  }
}
