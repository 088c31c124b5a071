package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * On the in-memory store a service fetches nothing ahead unless {@code claimAhead} says so: each
 * worker records its job's outcome and claims its next job in one call. A batch's {@code
 * processing} count then holds only the jobs that run; with {@code claimAhead} it holds the jobs
 * fetched ahead too, as on a durable store.
 */
@Timeout(60)
class InMemoryFetchAheadDefaultTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final int JOBS = 1_000;

  /** Jobs that end at once before the rest block: short jobs, the most a service would fetch. */
  private static final int QUICK = 200;

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  @Test
  void byDefault_nothingIsFetchedAhead_soOnlyRunningJobsAreProcessing() throws Exception {
    assertEquals(2, processingWhileTwoJobsBlock(BatchService.builder()));
  }

  /** The same run with a fixed depth: shows the count above would see jobs fetched ahead. */
  @Test
  void withClaimAhead_jobsAreFetchedAheadAsOnADurableStore() throws Exception {
    assertTrue(processingWhileTwoJobsBlock(BatchService.builder().claimAhead(50)) > 2);
  }

  /**
   * Runs a batch of limit 2 on 8 slots whose first {@link #QUICK} jobs end at once and whose others
   * block, and returns the batch's {@code processing} count once two of them block; then lets every
   * job end and checks the batch's final counts.
   */
  private long processingWhileTwoJobsBlock(BatchService.Builder builder) throws Exception {
    AtomicInteger started = new AtomicInteger();
    CountDownLatch twoBlocked = new CountDownLatch(2);
    CountDownLatch release = new CountDownLatch(1);
    BatchService service =
        services.start(
            builder
                .store(JobStore.inMemory())
                .maxConcurrency(8)
                .processor(
                    "t",
                    ctx -> {
                      if (started.incrementAndGet() > QUICK) {
                        twoBlocked.countDown();
                        release.await(WAIT.toSeconds(), TimeUnit.SECONDS);
                      }
                      return "ok";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(JOBS)).maxConcurrency(2).build());
    long processing;
    try {
      assertTrue(twoBlocked.await(WAIT.toSeconds(), TimeUnit.SECONDS), "two jobs did not block");
      processing = service.getBatch(batch.id()).progress().processing();
    } finally {
      release.countDown();
    }
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertEquals(new Progress(JOBS, 0, 0, JOBS, 0, 0), done.progress(), done.toString());
    return processing;
  }
}
