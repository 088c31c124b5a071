package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.batchkit.testkit.Await;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Memory-aware concurrency ({@code BatchService.Builder.memoryAware}), with an injected probe in
 * place of the heap: over the fraction, no new job starts and running ones go on; back below, jobs
 * start again.
 */
class MemoryAwareTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();
  private final AtomicReference<Double> used = new AtomicReference<>(0.5);
  private final AtomicInteger started = new AtomicInteger();
  private final Semaphore finish = new Semaphore(0);

  @AfterEach
  void close() {
    finish.release(1_000);
    services.closeAll();
  }

  @Test
  void overTheFraction_noJobStarts_andBackBelow_theyAllRun() throws Exception {
    BatchService service = start();
    used.set(0.9);

    Batch batch = service.submit(BatchRequest.builder("t").items(TestServices.items(4)).build());
    assertFalse(startsBeyond(0), "no job started while memory was over the fraction");

    used.set(0.5);
    finish.release(4);
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(4, started.get());
  }

  @Test
  void runningJobsGoOn_whileNewOnesWait() throws Exception {
    BatchService service = start();
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(6)).maxConcurrency(2).build());
    Await.until("two jobs run", () -> started.get() == 2);

    used.set(0.9);
    finish.release(2); // the running two end
    Await.until(
        "the two running jobs ended",
        () -> service.getBatch(batch.id()).progress().succeeded() == 2);
    assertFalse(startsBeyond(2), "no new job started while memory was over the fraction");

    used.set(0.5);
    finish.release(4);
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());
    assertEquals(6, started.get());
  }

  @Test
  void builder_refusesAFractionOutsideZeroToOne() {
    BatchService.Builder builder = BatchService.builder();
    for (double bad : new double[] {0, 1, -0.1, 1.5, Double.NaN}) {
      assertThrows(IllegalArgumentException.class, () -> builder.memoryAware(bad));
    }
  }

  /** Watches for 300 ms whether more than {@code count} jobs start; a bound, not a pace. */
  private boolean startsBeyond(int count) {
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(300);
    while (System.nanoTime() < until) {
      if (started.get() > count) {
        return true;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
    return started.get() > count;
  }

  private BatchService start() {
    return services.start(
        BatchService.builder()
            .maxConcurrency(2)
            .memoryAware(0.8, used::get)
            .processor(
                "t",
                ctx -> {
                  started.incrementAndGet();
                  if (!finish.tryAcquire(1, TimeUnit.MINUTES)) {
                    throw new IllegalStateException("the test never let the job end");
                  }
                  return "ok";
                }));
  }
}
