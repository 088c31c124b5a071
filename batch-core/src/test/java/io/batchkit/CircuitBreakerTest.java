package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.testkit.Await;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Circuit breakers per job type ({@code BatchService.Builder.circuitBreaker}): after enough failed
 * attempts within the window the circuit opens, and no job of the type starts (they wait queued,
 * using no attempt); after the open period one trial job runs, and its outcome closes or reopens
 * the circuit. Time is the service's injected clock, moved by the test.
 */
class CircuitBreakerTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Duration OPEN_FOR = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();
  private final MutableClock clock = new MutableClock();
  private final AtomicBoolean down = new AtomicBoolean(true);
  private final AtomicInteger attemptsWhileDown = new AtomicInteger();
  private final List<String> events = new CopyOnWriteArrayList<>();

  /** Counted down by a job that starts once the circuit has opened. */
  private final CountDownLatch anyStart = new CountDownLatch(1);

  @AfterEach
  void close() {
    services.closeAll();
  }

  @Test
  void failuresOpenTheCircuit_jobsWaitQueued_andASuccessfulTrialClosesIt() throws Exception {
    BatchService service = start();
    Batch batch = service.submit(request(10));

    Await.until("the circuit opened", () -> events.contains("opened"));
    awaitRecorded(service, batch);
    assertEquals(3, attemptsWhileDown.get(), "three failures opened it");
    assertEquals(Map.of("api", CircuitState.OPEN), service.statistics().circuitBreakers());

    // while it is open, work of the type does not start, even when a new batch announces it
    Batch second = service.submit(request(2));
    assertFalse(
        anyStart.await(300, TimeUnit.MILLISECONDS), "no job started while the circuit was open");
    assertEquals(3, attemptsWhileDown.get(), "no attempt was burned while open");
    assertEquals(2, service.getBatch(second.id()).progress().queued());
    Batch waiting = service.getBatch(batch.id());
    assertEquals(BatchStatus.PROCESSING, waiting.status());
    assertEquals(0, waiting.progress().processing(), "no job runs: " + waiting.progress());

    down.set(false);
    clock.advance(OPEN_FOR.plusSeconds(1)); // the open period ends, and the retries fall due

    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(second.id(), WAIT).status());
    assertEquals(3, attemptsWhileDown.get());
    assertEquals(List.of("opened", "closed"), events);
    assertEquals(Map.of("api", CircuitState.CLOSED), service.statistics().circuitBreakers());
  }

  @Test
  void aFailedTrial_opensTheCircuitAgain_forAnotherOpenPeriod() {
    BatchService service = start();
    Batch batch = service.submit(request(4));
    Await.until("the circuit opened", () -> events.contains("opened"));
    awaitRecorded(service, batch);

    clock.advance(OPEN_FOR.plusSeconds(1)); // still down: the one trial fails
    Await.until("the trial failed", () -> attemptsWhileDown.get() == 4);
    Await.until("the circuit opened again", () -> events.size() == 2);
    awaitRecorded(service, batch);
    assertEquals(List.of("opened", "opened"), events);
    assertEquals(CircuitState.OPEN, service.statistics().circuitBreakers().get("api"));

    down.set(false);
    clock.advance(OPEN_FOR.plusSeconds(1));
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(4, attemptsWhileDown.get(), "one trial per open period, no more");
    assertEquals(List.of("opened", "opened", "closed"), events);
  }

  @Test
  void failuresOutsideTheWindow_doNotOpenTheCircuit() {
    BatchService service = start();
    Batch batch = service.submit(request(1));
    Await.until("the first attempt failed", () -> attemptsWhileDown.get() == 1);
    awaitRecorded(service, batch);
    for (int attempt = 2; attempt <= 5; attempt++) {
      clock.advance(Duration.ofSeconds(61)); // each failure alone in its window; the retry is due
      int expected = attempt;
      Await.until("attempt " + attempt + " failed", () -> attemptsWhileDown.get() == expected);
      awaitRecorded(service, batch);
    }
    assertEquals(List.of(), events);
    down.set(false);
    clock.advance(Duration.ofMinutes(1));
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());
    assertEquals(Map.of("api", CircuitState.CLOSED), service.statistics().circuitBreakers());
  }

  @Test
  void builder_checksTheBreaker() {
    BatchService.Builder builder = BatchService.builder().discoverProcessors(false);
    assertThrows(
        NullPointerException.class, () -> builder.circuitBreaker(null, 1, OPEN_FOR, OPEN_FOR));
    assertThrows(
        IllegalArgumentException.class, () -> builder.circuitBreaker("api", 0, OPEN_FOR, OPEN_FOR));
    assertThrows(
        IllegalArgumentException.class,
        () -> builder.circuitBreaker("api", 1, Duration.ZERO, OPEN_FOR));
    assertThrows(
        IllegalArgumentException.class,
        () -> builder.circuitBreaker("api", 1, OPEN_FOR, Duration.ofMillis(-1)));
    builder.circuitBreaker("api", 1, OPEN_FOR, OPEN_FOR);
    assertThrows(
        IllegalArgumentException.class, () -> builder.circuitBreaker("api", 2, OPEN_FOR, OPEN_FOR));
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);
    assertTrue(e.getMessage().contains("circuitBreaker names job type 'api'"), e.getMessage());
  }

  private BatchService start() {
    return services.start(
        BatchService.builder()
            .clock(clock)
            .maxConcurrency(1)
            .retryBackoff(Duration.ofSeconds(1), Duration.ofSeconds(2))
            .circuitBreaker("api", 3, Duration.ofMinutes(1), OPEN_FOR)
            .listener(
                new BatchListener() {
                  @Override
                  public void circuitOpened(String jobType) {
                    events.add("opened");
                  }

                  @Override
                  public void circuitClosed(String jobType) {
                    events.add("closed");
                  }

                  @Override
                  public void jobStarted(JobContext job) {
                    if (events.contains("opened")) {
                      anyStart.countDown();
                    }
                  }
                })
            .processor(
                "api",
                ctx -> {
                  if (down.get()) {
                    attemptsWhileDown.incrementAndGet();
                    throw new IllegalStateException("downstream is down");
                  }
                  return "ok";
                }));
  }

  /**
   * Waits until no job of the batch runs: the failed attempts' retries are recorded, with retry
   * times from the clock as it was, before the test moves it.
   */
  private static void awaitRecorded(BatchService service, Batch batch) {
    Await.until(
        "the outcomes are recorded",
        () -> service.getBatch(batch.id()).progress().processing() == 0);
  }

  private static BatchRequest request(int items) {
    return BatchRequest.builder("api")
        .items(TestServices.items(items))
        .maxConcurrency(1)
        .maxAttempts(100)
        .build();
  }
}
