package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Processors that throw Errors, return nothing or too much, or cancel their own batch. */
@Timeout(60)
class MisbehavingProcessorTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private final List<BatchService> services = new ArrayList<>();

  @AfterEach
  void closeAll() {
    services.forEach(BatchService::close);
  }

  private BatchService start(String jobType, JobProcessor processor) {
    BatchService service =
        BatchService.builder()
            .discoverProcessors(false)
            .maxPayloadBytes(1024)
            .retryBackoff(Duration.ZERO, Duration.ZERO)
            .processor(jobType, processor)
            .processor("fine", ctx -> "ok")
            .build();
    services.add(service);
    return service;
  }

  private static Job onlyJob(BatchService service, BatchId id) {
    List<Job> jobs = service.getJobs(id, JobQuery.all()).items();
    assertEquals(1, jobs.size());
    return jobs.get(0);
  }

  @Test
  void anError_failsTheAttemptAndTheServiceCarriesOn() {
    BatchService service =
        start(
            "t",
            ctx -> {
              throw new StackOverflowError("deep recursion in user code");
            });
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(2).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    Job job = onlyJob(service, batch.id());
    assertEquals(2, job.attempt());
    assertTrue(job.error().orElseThrow().contains("StackOverflowError"), job.toString());
    Batch after = service.submit(BatchRequest.builder("fine").item("y").build());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(after.id(), WAIT).status());
    assertEquals(0, service.statistics().running());
  }

  @Test
  void aNullResult_succeedsWithNoResult() {
    BatchService service = start("t", ctx -> null);
    Batch batch = service.submit(BatchRequest.builder("t").item("x").build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(Optional.empty(), onlyJob(service, batch.id()).result());
  }

  @Test
  void aResultOverTheLimit_failsTheAttemptAndIsNotStored() {
    BatchService service = start("t", ctx -> "é".repeat(600)); // 1,200 bytes in UTF-8
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(1).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    Job job = onlyJob(service, batch.id());
    assertEquals(Optional.empty(), job.result());
    assertTrue(job.error().orElseThrow().contains("1200 bytes"), job.toString());
    assertTrue(job.error().orElseThrow().contains("1024"), job.toString());
  }

  @Test
  void aProcessorThatCancelsItsOwnBatch_endsCancelledWithExactCounts() {
    BatchService[] self = new BatchService[1];
    BatchService service =
        start(
            "t",
            ctx -> {
              self[0].cancelBatch(ctx.batchId());
              return "done anyway";
            });
    self[0] = service;
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(List.of("a", "b", "c", "d")).maxConcurrency(1).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.CANCELLED, done.status());
    assertTrue(done.isFinished());
    assertEquals(new Progress(4, 0, 0, 0, 0, 4), done.progress());
    assertEquals(0, service.statistics().running());
  }

  @Test
  void aProcessorIgnoringItsTimeoutInterrupt_losesItsSlotAfterTheGracePeriod() throws Exception {
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    java.util.concurrent.CountDownLatch returned = new java.util.concurrent.CountDownLatch(1);
    BatchService service =
        BatchService.builder()
            .discoverProcessors(false)
            .maxConcurrency(1)
            .interruptGracePeriod(Duration.ofMillis(200))
            .processor(
                "stubborn",
                ctx -> {
                  try {
                    while (true) {
                      try {
                        if (release.await(30, java.util.concurrent.TimeUnit.SECONDS)) {
                          return "late";
                        }
                      } catch (InterruptedException ignored) {
                        // a badly behaved processor swallows the interrupt and carries on
                      }
                    }
                  } finally {
                    returned.countDown();
                  }
                })
            .processor("fine", ctx -> "ok")
            .build();
    services.add(service);
    Batch stuck =
        service.submit(
            BatchRequest.builder("stubborn")
                .item("x")
                .maxAttempts(1)
                .jobTimeout(Duration.ofMillis(100))
                .build());

    Batch done = service.awaitCompletion(stuck.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    Job job = onlyJob(service, stuck.id());
    assertTrue(job.error().orElseThrow().contains("ignored its interrupt"), job.toString());
    // the only slot is free again although the stubborn thread still runs
    Batch after = service.submit(BatchRequest.builder("fine").item("y").build());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(after.id(), WAIT).status());
    assertEquals(1, returned.getCount(), "the stubborn processor is still running");
    release.countDown();
    assertTrue(returned.await(30, java.util.concurrent.TimeUnit.SECONDS));
    service.awaitCompletion(after.id(), WAIT);
    assertEquals(
        JobStatus.FAILED, onlyJob(service, stuck.id()).status(), "its late result is ignored");
    assertEquals(Optional.empty(), onlyJob(service, stuck.id()).result());
  }
}
