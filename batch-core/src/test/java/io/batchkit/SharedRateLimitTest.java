package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code Builder.sharedRateLimit}: one token bucket in the store for every service that shares it,
 * refilled by the services' clock (injected here, so that no token comes but those the test gives).
 */
@Timeout(60)
class SharedRateLimitTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  private BatchService node(
      JobStore store, MutableClock clock, String nodeId, AtomicInteger runs, boolean perTenant) {
    BatchService.Builder builder =
        BatchService.builder()
            .store(store)
            .clock(clock)
            .nodeId(nodeId)
            .processor(
                "t",
                ctx -> {
                  runs.incrementAndGet();
                  return "ok";
                });
    // 10 a minute: one every 6 s, and the bucket holds 1
    if (perTenant) {
      builder.sharedRateLimit("t", "tenant", 10, Duration.ofMinutes(1));
    } else {
      builder.sharedRateLimit("t", 10, Duration.ofMinutes(1));
    }
    return services.start(builder);
  }

  /**
   * Two services share one bucket: no job starts without a token, whichever service claims it. The
   * clock stands still between steps, so only the tokens the test lets accrue are there.
   */
  @Test
  void twoServicesDrawOnOneBucket() {
    JobStore store = JobStore.inMemory();
    MutableClock clock = new MutableClock();
    AtomicInteger runs = new AtomicInteger();
    BatchService a = node(store, clock, "a", runs, false);
    node(store, clock, "b", runs, false);
    Batch batch = a.submit(BatchRequest.builder("t").items(TestServices.items(4)).build());

    Await.until("the bucket's one token spent", WAIT, () -> runs.get() == 1);
    for (int expected = 2; expected <= 4; expected++) {
      assertEquals(expected - 1, runs.get(), "a job started without a token");
      clock.advance(Duration.ofSeconds(6)); // one more token
      int wanted = expected;
      Await.until("job " + expected, WAIT, () -> runs.get() == wanted);
    }

    Batch done = a.awaitCompletion(batch.id(), WAIT);
    assertEquals(new Progress(4, 0, 0, 4, 0, 0), done.progress());
    assertEquals(4, runs.get());
  }

  /** With a metadata key, each tenant has a bucket of its own. */
  @Test
  void perTenant_eachTenantHasItsOwnBucket() {
    JobStore store = JobStore.inMemory();
    MutableClock clock = new MutableClock();
    AtomicInteger runs = new AtomicInteger();
    Map<String, AtomicInteger> perTenant = new ConcurrentHashMap<>();
    BatchService a = node(store, clock, "a", runs, true);
    Batch first =
        a.submit(
            BatchRequest.builder("t").items(TestServices.items(3)).metadata("tenant", "x").build());
    Batch second =
        a.submit(
            BatchRequest.builder("t").items(TestServices.items(3)).metadata("tenant", "y").build());

    // a job counts once its outcome is stored, a moment after its processor (and runs) returned
    Await.until(
        "one job per tenant",
        WAIT,
        () ->
            a.getBatch(first.id()).progress().succeeded()
                    + a.getBatch(second.id()).progress().succeeded()
                == 2);
    for (Batch b : List.of(first, second)) {
      perTenant.put(
          b.metadata().get("tenant"),
          new AtomicInteger((int) a.getBatch(b.id()).progress().succeeded()));
    }
    assertEquals(1, perTenant.get("x").get());
    assertEquals(1, perTenant.get("y").get());
    assertEquals(2, runs.get());
  }

  @Test
  void badSettingsAreRefusedNamingThem() {
    assertThrows(
        IllegalArgumentException.class,
        () -> BatchService.builder().sharedRateLimit("t", 0, Duration.ofSeconds(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> BatchService.builder().sharedRateLimit("t", 1, Duration.ofDays(2)));
    assertThrows(
        IllegalArgumentException.class,
        () -> BatchService.builder().sharedRateLimit("t", " ", 1, Duration.ofSeconds(1)));
    IllegalArgumentException twice =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                BatchService.builder()
                    .sharedRateLimit("t", 1, Duration.ofSeconds(1))
                    .sharedRateLimit("t", 2, Duration.ofSeconds(1)));
    assertTrue(twice.getMessage().contains("already"), twice.getMessage());
    IllegalArgumentException unknown =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                BatchService.builder()
                    .discoverProcessors(false)
                    .sharedRateLimit("nobody", 1, Duration.ofSeconds(1))
                    .build());
    assertTrue(unknown.getMessage().contains("nobody"), unknown.getMessage());
  }
}
