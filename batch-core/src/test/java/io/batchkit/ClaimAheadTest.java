package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.ConcurrencyProbe;
import io.batchkit.testkit.Stores;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@code Builder.claimAhead}: a service claims jobs beyond its free slots. Its limits, counts,
 * cancellation, timeouts and shutdown must hold as its Javadoc says.
 */
@Timeout(60)
class ClaimAheadTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  @Test
  void claimAhead_outOfRange_isRefusedNamingTheSetting() {
    for (int bad : new int[] {-1, 10_001}) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class, () -> BatchService.builder().claimAhead(bad));
      assertTrue(e.getMessage().contains("claimAhead"), e.getMessage());
    }
  }

  /**
   * Many short jobs through 3 slots and 10 claimed ahead: never more than 3 run, never more than 13
   * are processing (claimed), every job runs exactly once and the counts are exact.
   */
  @Test
  void limitsHoldAndEveryJobRunsOnce() {
    ConcurrencyProbe probe = new ConcurrencyProbe();
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    AtomicInteger maxProcessing = new AtomicInteger();
    BatchService[] self = new BatchService[1];
    BatchService service =
        services.start(
            BatchService.builder()
                .maxConcurrency(3)
                .claimAhead(10)
                .processor(
                    "t",
                    ctx -> {
                      probe.enter(ctx);
                      try {
                        runs.computeIfAbsent(ctx.payload(), k -> new AtomicInteger())
                            .incrementAndGet();
                        long processing = self[0].getBatch(ctx.batchId()).progress().processing();
                        maxProcessing.accumulateAndGet((int) processing, Math::max);
                        return "ok";
                      } finally {
                        probe.exit(ctx);
                      }
                    }));
    self[0] = service;
    int jobs = 2_000;
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(jobs)).maxConcurrency(100).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress());
    assertTrue(probe.peak() <= 3, "peak concurrency " + probe.peak());
    assertTrue(maxProcessing.get() <= 13, "processing reached " + maxProcessing.get());
    assertEquals(jobs, runs.size());
    runs.forEach((payload, count) -> assertEquals(1, count.get(), payload));
  }

  /** The batch's own limit caps what is claimed ahead: claimed jobs count as processing. */
  @Test
  void theBatchLimitCapsTheClaimAhead() {
    AtomicInteger maxProcessing = new AtomicInteger();
    BatchService[] self = new BatchService[1];
    BatchService service =
        services.start(
            BatchService.builder()
                .maxConcurrency(2)
                .claimAhead(50)
                .processor(
                    "t",
                    ctx -> {
                      long processing = self[0].getBatch(ctx.batchId()).progress().processing();
                      maxProcessing.accumulateAndGet((int) processing, Math::max);
                      return "ok";
                    }));
    self[0] = service;
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(500)).maxConcurrency(5).build());

    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());
    assertTrue(maxProcessing.get() <= 5, "processing reached " + maxProcessing.get());
  }

  /**
   * The only slot is busy with another batch's job, so the jobs claimed ahead wait; cancelling
   * their batch ends them at once, without running them.
   */
  @Test
  void cancellingABatchEndsItsClaimedAheadJobsAtOnce() {
    CountDownLatch blockerRunning = new CountDownLatch(1);
    CountDownLatch releaseBlocker = services.gate();
    AtomicInteger waitingRan = new AtomicInteger();
    BatchService service =
        services.start(
            BatchService.builder()
                .maxConcurrency(1)
                .claimAhead(5)
                .processor(
                    "blocker",
                    ctx -> {
                      blockerRunning.countDown();
                      releaseBlocker.await();
                      return "ok";
                    })
                .processor(
                    "waiting",
                    ctx -> {
                      waitingRan.incrementAndGet();
                      return "ok";
                    }));
    Batch blocker = service.submit(BatchRequest.builder("blocker").item("b").build());
    Await.until("the blocker to run", WAIT, () -> blockerRunning.getCount() == 0);
    Batch waiting =
        service.submit(
            BatchRequest.builder("waiting").items(TestServices.items(5)).maxConcurrency(5).build());
    Await.until(
        "5 jobs claimed ahead",
        WAIT,
        () -> service.getBatch(waiting.id()).progress().processing() == 5);

    service.cancelBatch(waiting.id());
    Batch cancelled = service.awaitCompletion(waiting.id(), WAIT);

    assertEquals(BatchStatus.CANCELLED, cancelled.status(), cancelled.toString());
    assertEquals(new Progress(5, 0, 0, 0, 0, 5), cancelled.progress());
    assertEquals(0, waitingRan.get());
    assertEquals(BatchStatus.PROCESSING, service.getBatch(blocker.id()).status());
    releaseBlocker.countDown();
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(blocker.id(), WAIT).status());
  }

  /**
   * Closing gives the jobs claimed ahead back to the store without counting an attempt; another
   * service then runs every job once.
   */
  @Test
  void closeGivesClaimedAheadJobsBack() {
    JobStore store = JobStore.inMemory();
    CountDownLatch firstRunning = new CountDownLatch(1);
    CountDownLatch never = services.gate();
    BatchService closing =
        BatchService.builder()
            .store(store)
            .maxConcurrency(1)
            .claimAhead(5)
            .shutdownGracePeriod(Duration.ofMillis(100))
            .processor(
                "t",
                ctx -> {
                  firstRunning.countDown();
                  never.await();
                  return "unreachable";
                })
            .build();
    services.add(closing);
    Batch batch =
        closing.submit(
            BatchRequest.builder("t").items(TestServices.items(6)).maxConcurrency(6).build());
    Await.until("the first job to run", WAIT, () -> firstRunning.getCount() == 0);
    Await.until(
        "5 more claimed ahead",
        WAIT,
        () -> closing.getBatch(batch.id()).progress().processing() == 6);

    closing.close();

    List<Job> afterClose = Stores.allJobs(store, batch.id());
    assertEquals(6, afterClose.size());
    for (Job job : afterClose) {
      assertEquals(JobStatus.QUEUED, job.status(), job.toString());
      assertEquals(0, job.attempt(), job.toString());
    }
    BatchService next =
        services.start(BatchService.builder().store(store).processor("t", ctx -> "ok"));
    assertEquals(BatchStatus.COMPLETED, next.awaitCompletion(batch.id(), WAIT).status());
    for (Job job : Stores.allJobs(store, batch.id())) {
      assertEquals(1, job.attempt(), job.toString());
    }
  }

  /**
   * A job's timeout starts when a worker takes it, not when it was claimed: 100 jobs of 20 ms
   * through one slot take about 2 s, twice their 1 s timeout, and none times out.
   */
  @Test
  void theTimeoutStartsWhenTheJobStartsNotWhenItWasClaimed() {
    BatchService service =
        services.start(
            BatchService.builder()
                .maxConcurrency(1)
                .claimAhead(100)
                .processor(
                    "t",
                    ctx -> {
                      Thread.sleep(20);
                      return "ok";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t")
                .items(TestServices.items(100))
                .maxConcurrency(101)
                .maxAttempts(1)
                .jobTimeout(Duration.ofSeconds(1))
                .build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(100, 0, 0, 100, 0, 0), done.progress(), done.toString());
  }
}
