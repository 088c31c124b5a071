package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.TestServices;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A job's attempt history ({@link BatchService#getJobHistory}) through the public API. */
@Timeout(60)
class JobHistoryTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  private static JobId onlyJob(BatchService service, BatchId id) {
    List<Job> jobs = service.getJobs(id, JobQuery.all()).items();
    assertEquals(1, jobs.size());
    return jobs.get(0).id();
  }

  @Test
  void everyAttemptOfAFlakyJob_withItsNodeTimesAndError() {
    AtomicInteger calls = new AtomicInteger();
    BatchService service =
        services.start(
            BatchService.builder()
                .nodeId("history-node")
                .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(5))
                .processor(
                    "t",
                    ctx -> {
                      int n = calls.incrementAndGet();
                      if (n < 3) {
                        throw new IOException("flaky " + n);
                      }
                      return "ok";
                    }));
    Instant before = Instant.now();
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(3).build());
    service.awaitCompletion(batch.id(), WAIT);

    List<JobAttempt> history = service.getJobHistory(onlyJob(service, batch.id()));

    assertEquals(
        List.of(
            JobAttempt.Outcome.RETRY_SCHEDULED,
            JobAttempt.Outcome.RETRY_SCHEDULED,
            JobAttempt.Outcome.SUCCEEDED),
        history.stream().map(JobAttempt::outcome).toList());
    assertEquals(List.of(1, 2, 3), history.stream().map(JobAttempt::attempt).toList());
    assertTrue(history.get(0).error().orElseThrow().contains("flaky 1"));
    assertTrue(history.get(1).error().orElseThrow().contains("flaky 2"));
    assertFalse(history.get(2).error().isPresent());
    Instant last = before;
    for (JobAttempt attempt : history) {
      assertEquals("history-node", attempt.nodeId());
      assertFalse(attempt.startedAt().isBefore(last), "attempts are in order: " + history);
      assertFalse(attempt.endedAt().isBefore(attempt.startedAt()), attempt.toString());
      last = attempt.endedAt();
    }
  }

  @Test
  void attemptsThatRanOutOfTime_areTimedOut() {
    CountDownLatch never = services.gate();
    BatchService service =
        services.start(
            BatchService.builder()
                .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(5))
                .processor(
                    "t",
                    ctx -> {
                      never.await();
                      return "unreachable";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t")
                .item("x")
                .maxAttempts(2)
                .jobTimeout(Duration.ofMillis(50))
                .build());
    assertEquals(BatchStatus.FAILED, service.awaitCompletion(batch.id(), WAIT).status());

    List<JobAttempt> history = service.getJobHistory(onlyJob(service, batch.id()));

    assertEquals(
        List.of(JobAttempt.Outcome.TIMED_OUT, JobAttempt.Outcome.TIMED_OUT),
        history.stream().map(JobAttempt::outcome).toList());
    history.forEach(
        a -> assertTrue(a.error().orElseThrow().contains("timed out after PT0.05S"), a.toString()));
  }

  @Test
  void attemptsBeforeRetryFailed_stayVisible() {
    AtomicBoolean broken = new AtomicBoolean(true);
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      if (broken.get()) {
                        throw new IllegalStateException("downstream is down");
                      }
                      return "ok";
                    }));
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(1).build());
    assertEquals(BatchStatus.FAILED, service.awaitCompletion(batch.id(), WAIT).status());
    broken.set(false);

    service.retryFailed(batch.id());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());

    List<JobAttempt> history = service.getJobHistory(onlyJob(service, batch.id()));
    assertEquals(
        List.of(JobAttempt.Outcome.FAILED, JobAttempt.Outcome.SUCCEEDED),
        history.stream().map(JobAttempt::outcome).toList());
    assertEquals(List.of(1, 1), history.stream().map(JobAttempt::attempt).toList());
    assertTrue(history.get(0).error().orElseThrow().contains("downstream is down"));
  }

  @Test
  void retryJob_runsOneFailedJobAgain_andItsBatchEndsAgain() {
    AtomicBoolean broken = new AtomicBoolean(true);
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      if (ctx.payload().equals("x") && broken.get()) {
                        throw new IllegalStateException("downstream is down");
                      }
                      return "ok";
                    }));
    Batch batch =
        service.submit(BatchRequest.builder("t").items(List.of("x", "y")).maxAttempts(1).build());
    assertEquals(BatchStatus.PARTIAL, service.awaitCompletion(batch.id(), WAIT).status());
    Job failed = service.getJobs(batch.id(), JobQuery.withStatus(JobStatus.FAILED)).items().get(0);
    broken.set(false);

    Batch reopened = service.retryJob(failed.id());

    assertEquals(BatchStatus.PROCESSING, reopened.status());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());
    assertEquals(
        List.of(JobAttempt.Outcome.FAILED, JobAttempt.Outcome.SUCCEEDED),
        service.getJobHistory(failed.id()).stream().map(JobAttempt::outcome).toList());
    assertThrows(IllegalStateException.class, () -> service.retryJob(failed.id()), "succeeded");
    assertThrows(JobNotFoundException.class, () -> service.retryJob(JobId.random()));
    assertThrows(NullPointerException.class, () -> service.retryJob(null));
    assertThrows(IllegalArgumentException.class, () -> service.retryJobs(List.of()));
  }

  @Test
  void aJobThatIgnoresItsInterruptAtShutdown_isGivenBack_andItsHistorySaysReleased()
      throws Exception {
    JobStore store = JobStore.inMemory();
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch started = new CountDownLatch(1);
    BatchService service =
        services.start(
            BatchService.builder()
                .store(store)
                .nodeId("stubborn")
                .shutdownGracePeriod(Duration.ZERO)
                .processor(
                    "t",
                    ctx -> {
                      started.countDown();
                      while (!stop.get()) {
                        try {
                          Thread.sleep(5);
                        } catch (InterruptedException ignored) {
                          // a processor that ignores its interrupt, as some do
                        }
                      }
                      return "too late";
                    }));
    Batch batch = service.submit(BatchRequest.builder("t").item("x").build());
    started.await();

    service.close();
    stop.set(true);

    JobId id = store.listJobs(batch.id(), JobQuery.all()).items().get(0).id();
    List<JobAttempt> history = store.listJobAttempts(id);
    assertEquals(
        List.of(JobAttempt.Outcome.RELEASED), history.stream().map(JobAttempt::outcome).toList());
    assertEquals("stubborn", history.get(0).nodeId());
    assertEquals(1, history.get(0).attempt());
  }

  @Test
  void badInput_unknownJob_andAClosedService() {
    BatchService service = services.start(BatchService.builder().processor("t", ctx -> "ok"));
    JobId unknown = JobId.random();

    JobNotFoundException e =
        assertThrows(JobNotFoundException.class, () -> service.getJobHistory(unknown));
    assertEquals(unknown, e.jobId());
    assertThrows(NullPointerException.class, () -> service.getJobHistory(null));
    service.close();
    assertThrows(IllegalStateException.class, () -> service.getJobHistory(unknown));
  }

  @Test
  void historyRetention_isCheckedWhenSet() {
    BatchService.Builder builder = BatchService.builder();
    assertThrows(NullPointerException.class, () -> builder.historyRetention(null));
    assertThrows(
        IllegalArgumentException.class, () -> builder.historyRetention(Duration.ofSeconds(59)));
    assertThrows(
        IllegalArgumentException.class, () -> builder.historyRetention(Duration.ofDays(36_526)));
    builder.historyRetention(Duration.ofMinutes(1)).historyRetention(Duration.ofDays(36_525));
    assertTrue(builder.toString().contains("historyRetention=PT876600H"), builder.toString());
  }
}
