package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.ArgumentMatchers.eq;
import static org.mockito.Mockito.doAnswer;
import static org.mockito.Mockito.doThrow;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.mockingDetails;
import static org.mockito.Mockito.spy;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;

import io.batchkit.spi.JobStore;
import io.batchkit.spi.JobStoreException;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.ConcurrencyProbe;
import io.batchkit.testkit.EchoProcessorProvider;
import io.batchkit.testkit.TestServices;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.mockito.AdditionalAnswers;

/** The scheduler and the status rules, through the public API with the in-memory store. */
@Timeout(60)
class BatchServiceTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  private static Job onlyJob(BatchService service, BatchId id) {
    List<Job> jobs = service.getJobs(id, JobQuery.all()).items();
    assertEquals(1, jobs.size());
    return jobs.get(0);
  }

  @Test
  void submit_someJobsFail_endsPartialWithExactProgress() {
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      if (ctx.payload().startsWith("bad")) {
                        throw new IllegalArgumentException("cannot handle " + ctx.payload());
                      }
                      return ctx.payload().toUpperCase();
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t")
                .items(List.of("a", "b", "bad-1", "c", "bad-2"))
                .maxAttempts(1)
                .build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.PARTIAL, done.status());
    assertEquals(new Progress(5, 0, 0, 3, 2, 0), done.progress());
    assertEquals(0, done.progress().pending());
    assertEquals(100.0, done.progress().percentage());
    assertTrue(done.completedAt().isPresent());
    List<Job> jobs = service.getJobs(batch.id(), JobQuery.all()).items();
    assertEquals(
        List.of("a", "b", "bad-1", "c", "bad-2"),
        jobs.stream().map(Job::payload).collect(Collectors.toList()));
    assertEquals(Optional.of("A"), jobs.get(0).result());
    assertEquals(JobStatus.FAILED, jobs.get(2).status());
    String error = jobs.get(2).error().orElseThrow();
    assertTrue(error.contains("IllegalArgumentException: cannot handle bad-1"), error);
    assertEquals(
        List.of("bad-1", "bad-2"),
        service.getJobs(batch.id(), JobQuery.withStatus(JobStatus.FAILED)).items().stream()
            .map(Job::payload)
            .collect(Collectors.toList()));
  }

  @Test
  void addItems_addsJobsToAPendingBatch_whichRunsThemAll() {
    BatchService service =
        services.start(
            BatchService.builder()
                .processor("t", ctx -> "done " + ctx.payload())
                .maxItemsPerBatch(5));
    Batch batch = service.createBatch(BatchRequest.builder("t").items(List.of("a", "b")).build());

    Batch grown = service.addItems(batch.id(), List.of("c", "d"));

    assertEquals(Progress.allQueued(4), grown.progress());
    service.startBatch(batch.id());
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(
        List.of("done a", "done b", "done c", "done d"),
        service.getJobs(batch.id(), JobQuery.all()).items().stream()
            .map(job -> job.result().orElse("?"))
            .collect(Collectors.toList()));
  }

  /** Additions racing on one batch never take it past maxItemsPerBatch, and none is half done. */
  @Test
  void addItems_racingOnOneBatch_neverPassTheLimit() throws Exception {
    BatchService service =
        services.start(BatchService.builder().processor("t", ctx -> "ok").maxItemsPerBatch(10));
    ExecutorService callers = Executors.newFixedThreadPool(8);
    try {
      for (int round = 0; round < 30; round++) {
        BatchId id = service.createBatch(BatchRequest.builder("t").item("first").build()).id();
        CountDownLatch go = new CountDownLatch(1);
        List<Future<Boolean>> calls = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
          calls.add(
              callers.submit(
                  () -> {
                    go.await();
                    try {
                      service.addItems(id, List.of("x", "y"));
                      return true;
                    } catch (BatchValidationException refused) {
                      return false;
                    }
                  }));
        }
        go.countDown();
        int added = 0;
        for (Future<Boolean> call : calls) {
          added += call.get(30, TimeUnit.SECONDS) ? 2 : 0;
        }
        long total = service.getBatch(id).progress().total();
        assertEquals(1 + added, total, "round " + round);
        assertTrue(total <= 10, "round " + round + ": " + total);
        assertEquals(total, service.getJobs(id, JobQuery.all().page(0, 100)).items().size());
      }
    } finally {
      callers.shutdownNow();
    }
  }

  @Test
  void addItems_checksItsItems_andTheBatchsState() {
    BatchService service =
        services.start(BatchService.builder().processor("t", ctx -> "ok").maxItemsPerBatch(3));
    Batch batch = service.createBatch(BatchRequest.builder("t").items(List.of("a", "b")).build());
    BatchId id = batch.id();

    BatchValidationException tooMany =
        assertThrows(BatchValidationException.class, () -> service.addItems(id, List.of("c", "d")));
    assertTrue(tooMany.getMessage().contains("would have 4"), tooMany.getMessage());
    assertThrows(BatchValidationException.class, () -> service.addItems(id, List.of()));
    assertThrows(BatchValidationException.class, () -> service.addItems(id, List.of("nul\0")));
    List<String> withNull = new ArrayList<>(List.of("c"));
    withNull.add(null);
    NullPointerException nul =
        assertThrows(NullPointerException.class, () -> service.addItems(id, withNull));
    assertTrue(nul.getMessage().contains("items[1]"), nul.getMessage());
    assertThrows(NullPointerException.class, () -> service.addItems(null, List.of("c")));
    assertThrows(
        BatchNotFoundException.class, () -> service.addItems(BatchId.random(), List.of("c")));
    assertEquals(2, service.getBatch(id).progress().total(), "nothing was added");

    service.startBatch(id);
    IllegalStateException started =
        assertThrows(IllegalStateException.class, () -> service.addItems(id, List.of("c")));
    assertTrue(started.getMessage().contains("PENDING"), started.getMessage());
  }

  @Test
  void aRunningBatch_hasAnEstimatedTimeRemaining_inGetBatchAndListBatches() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      if (ctx.payload().equals("slow")) {
                        release.await();
                      } else {
                        TimeUnit.MILLISECONDS.sleep(5); // time passes between start and finish
                      }
                      return "ok";
                    }));
    Batch pending = service.createBatch(BatchRequest.builder("t").item("x").build());
    Batch running =
        service.submit(
            BatchRequest.builder("t")
                .items(List.of("a", "b", "slow", "d"))
                .maxConcurrency(1)
                .build());
    Await.until(
        "two jobs finished", () -> service.getBatch(running.id()).progress().finished() == 2);

    assertTrue(service.getBatch(running.id()).estimatedTimeRemaining().isPresent());
    assertTrue(service.getBatch(pending.id()).estimatedTimeRemaining().isEmpty());
    for (Batch listed : service.listBatches(BatchQuery.all()).items()) {
      assertEquals(
          listed.id().equals(running.id()),
          listed.estimatedTimeRemaining().isPresent(),
          "estimate of " + listed.name());
    }
    release.countDown();
    Batch done = service.awaitCompletion(running.id(), WAIT);
    assertTrue(service.getBatch(done.id()).estimatedTimeRemaining().isEmpty());
  }

  @Test
  void getBatchEvents_tellsWhatHappenedToABatch() {
    BatchService service = services.start(BatchService.builder().processor("t", ctx -> "ok"));
    Batch batch = service.submit(BatchRequest.builder("t").items(TestServices.items(3)).build());
    service.awaitCompletion(batch.id(), WAIT);

    List<BatchEvent> events = service.getBatchEvents(batch.id());

    assertEquals(
        List.of(BatchEvent.Type.CREATED, BatchEvent.Type.STARTED, BatchEvent.Type.FINISHED),
        events.stream().map(BatchEvent::type).collect(Collectors.toList()));
    assertTrue(events.get(2).detail().startsWith("COMPLETED: 3 succeeded"), events.get(2).detail());
    assertThrows(BatchNotFoundException.class, () -> service.getBatchEvents(BatchId.random()));
    assertThrows(NullPointerException.class, () -> service.getBatchEvents(null));
  }

  @Test
  void createBatch_staysPendingUntilStarted() {
    AtomicInteger runs = new AtomicInteger();
    BatchService service =
        services.start(BatchService.builder().processor("t", ctx -> "" + runs.incrementAndGet()));
    Batch batch =
        service.createBatch(BatchRequest.builder("t").items(TestServices.items(3)).build());
    assertEquals(BatchStatus.PENDING, batch.status());
    assertEquals(
        BatchStatus.PENDING, service.awaitCompletion(batch.id(), Duration.ofMillis(100)).status());
    assertEquals(0, runs.get());

    Batch started = service.startBatch(batch.id());

    assertEquals(BatchStatus.PROCESSING, started.status());
    assertTrue(started.startedAt().isPresent());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());
    assertEquals(3, runs.get());
    IllegalStateException again =
        assertThrows(IllegalStateException.class, () -> service.startBatch(batch.id()));
    assertTrue(again.getMessage().contains("not PENDING"), again.getMessage());
  }

  @Test
  void concurrency_neverExceedsServiceOrBatchLimits() throws Exception {
    ConcurrencyProbe probe = new ConcurrencyProbe();
    CountDownLatch gate = services.gate();
    CountDownLatch fourStarted = new CountDownLatch(4);
    BatchService service =
        services.start(
            BatchService.builder()
                .maxConcurrency(4)
                .processor(
                    "t",
                    ctx -> {
                      probe.enter(ctx);
                      try {
                        fourStarted.countDown();
                        gate.await();
                        return "ok";
                      } finally {
                        probe.exit(ctx);
                      }
                    }));
    Batch a =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(20)).build()); // default 3
    Batch b =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(20)).maxConcurrency(10).build());

    assertTrue(fourStarted.await(20, TimeUnit.SECONDS));
    assertEquals(4, service.statistics().running());
    assertEquals(
        4,
        service.getBatch(a.id()).progress().processing()
            + service.getBatch(b.id()).progress().processing());
    gate.countDown();

    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(a.id(), WAIT).status());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(b.id(), WAIT).status());
    assertEquals(4, probe.peak());
    assertTrue(probe.peak(a.id()) <= 3, "batch a ran " + probe.peak(a.id()) + " at once");
    assertEquals(0, probe.overlaps());
  }

  @Test
  void concurrency_batchLimitHoldsAcrossServicesSharingAStore() {
    JobStore store = JobStore.inMemory();
    ConcurrencyProbe probe = new ConcurrencyProbe();
    JobProcessor probed =
        ctx -> {
          probe.enter(ctx);
          try {
            Thread.yield();
            return "ok";
          } finally {
            probe.exit(ctx);
          }
        };
    BatchService one =
        services.start(BatchService.builder().store(store).nodeId("one").processor("t", probed));
    services.start(BatchService.builder().store(store).nodeId("two").processor("t", probed));
    Batch batch =
        one.submit(
            BatchRequest.builder("t").items(TestServices.items(500)).maxConcurrency(2).build());

    Batch done = one.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(500, done.progress().succeeded());
    assertTrue(probe.peak(batch.id()) <= 2, "batch ran " + probe.peak(batch.id()) + " at once");
    assertEquals(0, probe.overlaps());
    Set<String> nodes = new HashSet<>();
    int seen = 0;
    for (int offset = 0; offset < 500; offset += 100) {
      for (Job job : one.getJobs(batch.id(), JobQuery.all().page(offset, 100)).items()) {
        nodes.add(job.nodeId().orElseThrow());
        seen++;
      }
    }
    assertEquals(500, seen);
    assertTrue(Set.of("one", "two").containsAll(nodes), nodes.toString());
  }

  @Test
  void sharedStore_wakesAnIdleServiceAtOnceWhenAnotherCreatesWork() {
    JobStore store = JobStore.inMemory();
    AtomicInteger runs = new AtomicInteger();
    // polls only once a minute: without the store's announcement it would not see the work in time
    BatchService worker =
        BatchService.builder()
            .store(store)
            .nodeId("sleepy")
            .discoverProcessors(false)
            .pollInterval(Duration.ofMinutes(1))
            .processor("t", ctx -> "" + runs.incrementAndGet())
            .build();
    services.add(worker);
    BatchService front =
        services.start(
            BatchService.builder().store(store).nodeId("front").allowUnknownJobTypes(true));
    Batch idle = front.submit(BatchRequest.builder("t").item("warm-up").build());
    assertEquals(BatchStatus.COMPLETED, front.awaitCompletion(idle.id(), WAIT).status());

    Batch batch = front.submit(BatchRequest.builder("t").items(TestServices.items(3)).build());

    Batch done = front.awaitCompletion(batch.id(), Duration.ofSeconds(20));
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(4, runs.get());
  }

  @Test
  void priority_urgentRunsFirstAndEqualPrioritiesTakeTurns() throws Exception {
    List<String> order = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch gate = services.gate();
    CountDownLatch blockerRunning = new CountDownLatch(1);
    BatchService service =
        services.start(
            BatchService.builder()
                .maxConcurrency(1)
                .processor(
                    "block",
                    ctx -> {
                      blockerRunning.countDown();
                      gate.await();
                      return "ok";
                    })
                .processor(
                    "t",
                    ctx -> {
                      order.add(ctx.payload());
                      return "ok";
                    }));
    service.submit(BatchRequest.builder("block").item("x").build());
    assertTrue(blockerRunning.await(20, TimeUnit.SECONDS));
    Batch low =
        service.submit(
            BatchRequest.builder("t")
                .items(List.of("low1", "low2"))
                .priority(Priority.LOW)
                .build());
    Batch normalA =
        service.submit(BatchRequest.builder("t").items(List.of("a1", "a2", "a3")).build());
    Batch normalB =
        service.submit(BatchRequest.builder("t").items(List.of("b1", "b2", "b3")).build());
    Batch urgent =
        service.submit(
            BatchRequest.builder("t").items(List.of("u1", "u2")).priority(Priority.URGENT).build());
    gate.countDown();

    for (Batch b : List.of(low, normalA, normalB, urgent)) {
      assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(b.id(), WAIT).status());
    }
    assertEquals(List.of("u1", "u2", "a1", "b1", "a2", "b2", "a3", "b3", "low1", "low2"), order);
  }

  @Test
  void priority_waitingLowBatchAgesPastAStreamOfUrgentWork() throws Exception {
    MutableClock clock = new MutableClock();
    List<String> order = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch gate = services.gate();
    CountDownLatch blockerRunning = new CountDownLatch(1);
    BatchService service =
        services.start(
            BatchService.builder()
                .maxConcurrency(1)
                .clock(clock)
                .priorityAging(Duration.ofSeconds(10))
                .processor(
                    "block",
                    ctx -> {
                      blockerRunning.countDown();
                      gate.await();
                      return "ok";
                    })
                .processor(
                    "t",
                    ctx -> {
                      order.add(ctx.payload());
                      clock.advance(Duration.ofSeconds(10)); // each job "takes" ten seconds
                      return "ok";
                    }));
    service.submit(BatchRequest.builder("block").item("x").build());
    assertTrue(blockerRunning.await(20, TimeUnit.SECONDS));
    Batch low =
        service.submit(BatchRequest.builder("t").item("low").priority(Priority.LOW).build());
    Batch urgent =
        service.submit(
            BatchRequest.builder("t")
                .items(List.of("u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8"))
                .priority(Priority.URGENT)
                .build());
    gate.countDown();

    service.awaitCompletion(low.id(), WAIT);
    service.awaitCompletion(urgent.id(), WAIT);

    // LOW is three levels below URGENT: it runs once it has waited three ageing steps longer, so
    // after about three or four urgent jobs, and well before the urgent batch is done
    assertEquals(9, order.size());
    int position = order.indexOf("low");
    assertTrue(position >= 2 && position <= 5, "low ran at position " + position + ": " + order);
  }

  @Test
  void retry_failedAttemptsAreRetriedWithBackoffUntilTheySucceed() {
    Map<String, AtomicInteger> attempts = new ConcurrentHashMap<>();
    List<Boolean> willRetry = Collections.synchronizedList(new ArrayList<>());
    List<Integer> seenAttempts = Collections.synchronizedList(new ArrayList<>());
    BatchService service =
        services.start(
            BatchService.builder()
                .retryBackoff(Duration.ofMillis(1), Duration.ofMillis(5))
                .listener(
                    new BatchListener() {
                      @Override
                      public void jobFailed(JobContext job, Throwable error, boolean retry) {
                        willRetry.add(retry);
                      }
                    })
                .processor(
                    "t",
                    ctx -> {
                      int n =
                          attempts
                              .computeIfAbsent(ctx.payload(), k -> new AtomicInteger())
                              .incrementAndGet();
                      seenAttempts.add(ctx.attempt());
                      if (n < 3) {
                        throw new IOException("flaky " + n);
                      }
                      return "ok after " + n;
                    }));
    Batch batch = service.submit(BatchRequest.builder("t").item("x").maxAttempts(3).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status());
    Job job = onlyJob(service, batch.id());
    assertEquals(3, job.attempt());
    assertEquals(Optional.of("ok after 3"), job.result());
    assertEquals(List.of(true, true), willRetry);
    assertEquals(List.of(1, 2, 3), seenAttempts);
  }

  @Test
  void retry_waitsInTheStoreUntilItsDueTime() {
    MutableClock clock = new MutableClock();
    AtomicInteger runs = new AtomicInteger();
    BatchService service =
        services.start(
            BatchService.builder()
                .clock(clock)
                .retryBackoff(Duration.ofMinutes(5), Duration.ofMinutes(5))
                .retryJitter(0)
                .processor(
                    "t",
                    ctx -> {
                      if (runs.incrementAndGet() == 1) {
                        throw new IllegalStateException("first attempt fails");
                      }
                      return "ok";
                    }));
    Batch batch = service.submit(BatchRequest.builder("t").item("x").build());
    Await.until(
        "the failed attempt is queued for retry",
        () -> runs.get() == 1 && service.getBatch(batch.id()).progress().queued() == 1);
    assertEquals(1, onlyJob(service, batch.id()).attempt());
    assertFalse(service.awaitCompletion(batch.id(), Duration.ofMillis(100)).isFinished());
    assertEquals(1, runs.get());

    clock.advance(Duration.ofMinutes(5));

    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(batch.id(), WAIT).status());
    assertEquals(2, runs.get());
  }

  @Test
  void retry_exhaustedAttemptsFailTheJobWithTheLastError() {
    BatchService service =
        services.start(
            BatchService.builder()
                .retryBackoff(Duration.ZERO, Duration.ZERO)
                .processor(
                    "t",
                    ctx -> {
                      throw new IllegalStateException("broken on attempt " + ctx.attempt());
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(2)).maxAttempts(2).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    assertEquals(2, done.progress().failed());
    for (Job job : service.getJobs(batch.id(), JobQuery.all()).items()) {
      assertEquals(2, job.attempt());
      assertTrue(job.error().orElseThrow().contains("broken on attempt 2"), job.toString());
    }
  }

  @Test
  void timeout_attemptOverItsTimeIsInterruptedAndFails() {
    AtomicBoolean interrupted = new AtomicBoolean();
    CountDownLatch never = services.gate();
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      try {
                        never.await();
                      } catch (InterruptedException e) {
                        interrupted.set(true);
                        throw e;
                      }
                      return "unreachable";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t")
                .item("x")
                .maxAttempts(1)
                .jobTimeout(Duration.ofMillis(50))
                .build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    assertTrue(interrupted.get());
    String error = onlyJob(service, batch.id()).error().orElseThrow();
    assertTrue(error.contains("timed out after PT0.05S"), error);
  }

  /**
   * The job that times out is not started by the dispatcher: a worker finishes the job before it
   * and claims it for itself, while the dispatcher sleeps for a minute (poll interval and lease
   * long enough that no timer wakes it). The timeout still holds: the worker wakes the dispatcher,
   * which watches timeouts. Without that wake-up the batch would still be running when the wait
   * ends.
   */
  @Test
  void timeout_holdsForAJobAWorkerClaimedWhileTheDispatcherSleeps() {
    CountDownLatch firstRunning = new CountDownLatch(1);
    CountDownLatch releaseFirst = services.gate();
    CountDownLatch never = services.gate();
    BatchService service =
        BatchService.builder()
            .maxConcurrency(1)
            .pollInterval(Duration.ofMinutes(1))
            .maxPollInterval(Duration.ofMinutes(1))
            .leaseDuration(Duration.ofMinutes(30))
            .processor(
                "first",
                ctx -> {
                  firstRunning.countDown();
                  releaseFirst.await();
                  return "done";
                })
            .processor(
                "hangs",
                ctx -> {
                  never.await();
                  return "unreachable";
                })
            .build();
    services.add(service);
    Batch first =
        service.submit(
            BatchRequest.builder("first").item("a").jobTimeout(Duration.ofHours(1)).build());
    Await.until("the first job to start", WAIT, () -> firstRunning.getCount() == 0);
    Batch second =
        service.submit(
            BatchRequest.builder("hangs")
                .item("b")
                .maxAttempts(1)
                .jobTimeout(Duration.ofMillis(200))
                .build());
    releaseFirst.countDown();

    Batch done = service.awaitCompletion(second.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(first.id(), WAIT).status());
    assertEquals(BatchStatus.FAILED, done.status(), done.toString());
    String error = onlyJob(service, second.id()).error().orElseThrow();
    assertTrue(error.contains("timed out after PT0.2S"), error);
  }

  /**
   * On the in-memory store workers keep their slots while they find work, so a rate-limited type
   * (which workers never claim) would wait until every other job was done. The dispatcher asks for
   * a slot instead: the urgent rate-limited batch ends while the big unlimited one still runs.
   */
  @Test
  void rateLimit_aLimitedTypeGetsSlotsWhileAnUnlimitedBacklogRuns() {
    BatchService service =
        services.start(
            BatchService.builder()
                .maxConcurrency(2)
                .rateLimit("limited", 50, Duration.ofSeconds(1))
                .processor(
                    "backlog",
                    ctx -> {
                      Thread.sleep(1); // 10,000 of these through 2 slots: at least 5 s
                      return null;
                    })
                .processor("limited", ctx -> null));
    Batch backlog =
        service.submit(
            BatchRequest.builder("backlog")
                .items(TestServices.items(10_000))
                .maxConcurrency(2)
                .build());
    Await.until(
        "the backlog to run",
        WAIT,
        () -> service.getBatch(backlog.id()).progress().succeeded() > 0);

    Batch limited =
        service.submit(
            BatchRequest.builder("limited")
                .items(TestServices.items(5))
                .priority(Priority.HIGH)
                .build());
    Batch done = service.awaitCompletion(limited.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    Batch meanwhile = service.getBatch(backlog.id());
    assertFalse(
        meanwhile.isFinished(), "the rate-limited batch waited for the backlog: " + meanwhile);
    service.cancelBatch(backlog.id());
  }

  /**
   * Timeouts are watched by the dispatcher, which also talks to the store: while the store fails, a
   * hanging job must still be interrupted at its timeout, and its outcome recorded once the store
   * is back.
   */
  @Test
  void timeout_holdsWhileTheStoreIsDown() throws Exception {
    JobStore memory = JobStore.inMemory();
    AtomicBoolean down = new AtomicBoolean();
    JobStore store = mock(JobStore.class, AdditionalAnswers.delegatesTo(memory));
    org.mockito.stubbing.Answer<Object> failWhileDown =
        invocation -> {
          if (down.get()) {
            throw new JobStoreException(
                invocation.getMethod().getName(), true, "the database is down", null);
          }
          return invocation.getMethod().invoke(memory, invocation.getArguments());
        };
    doAnswer(failWhileDown).when(store).claim(any());
    doAnswer(failWhileDown).when(store).complete(any(), any());
    doAnswer(failWhileDown).when(store).heartbeat(any(), any(), any());
    doAnswer(failWhileDown).when(store).requeueExpired(any(), anyInt());
    CountDownLatch interrupted = new CountDownLatch(1);
    BatchService service =
        services.start(
            BatchService.builder()
                .store(store)
                .maxConcurrency(2) // a free slot: every round tries to claim, and fails
                .processor(
                    "t",
                    ctx -> {
                      down.set(true);
                      try {
                        new CountDownLatch(1).await();
                      } catch (InterruptedException e) {
                        interrupted.countDown();
                        throw e;
                      }
                      return "unreachable";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t")
                .item("x")
                .maxAttempts(1)
                .jobTimeout(Duration.ofMillis(300))
                .build());

    assertTrue(
        interrupted.await(WAIT.toSeconds(), TimeUnit.SECONDS),
        "the job was not interrupted at its timeout while the store was down");
    down.set(false);
    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status(), done.toString());
    assertTrue(onlyJob(service, batch.id()).error().orElseThrow().contains("timed out"));
  }

  /**
   * On the in-memory store a worker calls the store itself between jobs. If that call throws an
   * Error, the worker must still give its slot back and its outcome to the dispatcher: with one
   * slot, a lost slot would stop the service for good.
   */
  @Test
  void aStoreErrorInAWorker_givesTheSlotBackAndLosesNoOutcome() {
    JobStore store = spy(JobStore.inMemory());
    AtomicInteger workerErrors = new AtomicInteger();
    doAnswer(
            invocation -> {
              if (Thread.currentThread().getName().startsWith("batchkit-worker")
                  && workerErrors.compareAndSet(0, 1)) {
                throw new StackOverflowError("a store bug");
              }
              return invocation.callRealMethod();
            })
        .when(store)
        .completeAndClaim(any(), any(), any());
    BatchService service =
        services.start(
            BatchService.builder().store(store).maxConcurrency(1).processor("t", ctx -> "ok"));
    Batch batch = service.submit(BatchRequest.builder("t").items(TestServices.items(3)).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(3, 0, 0, 3, 0, 0), done.progress(), done.toString());
    assertEquals(1, workerErrors.get(), "a worker's call threw");
    assertEquals(0, service.statistics().running());
  }

  @Test
  void cancel_queuedJobsCancelAtOnceAndRunningJobsAreToldToStop() throws Exception {
    CountDownLatch twoRunning = new CountDownLatch(2);
    List<JobContext> contexts = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger interrupts = new AtomicInteger();
    CountDownLatch never = services.gate();
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      contexts.add(ctx);
                      twoRunning.countDown();
                      try {
                        never.await();
                      } catch (InterruptedException e) {
                        interrupts.incrementAndGet();
                        throw e;
                      }
                      return "unreachable";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(20)).maxConcurrency(2).build());
    assertTrue(twoRunning.await(20, TimeUnit.SECONDS));

    CancellationSummary summary = service.cancelBatch(batch.id());

    assertEquals(new CancellationSummary(batch.id(), 18, 2, 0), summary);
    assertEquals(BatchStatus.CANCELLED, service.getBatch(batch.id()).status());
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertTrue(done.isFinished());
    assertEquals(new Progress(20, 0, 0, 0, 0, 20), done.progress());
    assertEquals(2, contexts.size());
    assertTrue(contexts.stream().allMatch(JobContext::isCancelled));
    assertEquals(2, interrupts.get());
    IllegalStateException again =
        assertThrows(IllegalStateException.class, () -> service.cancelBatch(batch.id()));
    assertTrue(again.getMessage().contains("already ended CANCELLED"), again.getMessage());
  }

  @Test
  void cancel_pendingBatchFinishesAtOnce() {
    List<BatchId> finished = Collections.synchronizedList(new ArrayList<>());
    BatchService service =
        services.start(
            BatchService.builder()
                .processor("t", ctx -> "ok")
                .listener(
                    new BatchListener() {
                      @Override
                      public void batchFinished(Batch batch) {
                        finished.add(batch.id());
                      }
                    }));
    Batch batch =
        service.createBatch(BatchRequest.builder("t").items(TestServices.items(3)).build());

    CancellationSummary summary = service.cancelBatch(batch.id());

    assertEquals(new CancellationSummary(batch.id(), 3, 0, 0), summary);
    CompletableFuture<Batch> completion = service.completion(batch.id());
    assertTrue(completion.isDone());
    assertEquals(BatchStatus.CANCELLED, completion.join().status());
    assertEquals(List.of(batch.id()), finished);
  }

  @Test
  void retryFailed_requeuesFailedJobsAndTheBatchEndsAgain() {
    AtomicBoolean healed = new AtomicBoolean();
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      if (ctx.payload().equals("bad") && !healed.get()) {
                        throw new IllegalStateException("not yet");
                      }
                      return "ok";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(List.of("good", "bad")).maxAttempts(1).build());
    assertEquals(BatchStatus.PARTIAL, service.awaitCompletion(batch.id(), WAIT).status());
    healed.set(true);

    Batch again = service.retryFailed(batch.id());

    assertEquals(BatchStatus.PROCESSING, again.status());
    assertTrue(again.completedAt().isEmpty());
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(new Progress(2, 0, 0, 2, 0, 0), done.progress());
    assertThrows(IllegalStateException.class, () -> service.retryFailed(batch.id()));
  }

  @Test
  void failurePolicy_tripsAndCancelsTheRest() {
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      throw new IllegalStateException("always");
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t")
                .items(TestServices.items(20))
                .maxAttempts(1)
                .maxConcurrency(1)
                .failurePolicy(FailurePolicy.maxFailures(2))
                .build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.FAILED, done.status());
    assertEquals(new Progress(20, 0, 0, 0, 3, 17), done.progress());
  }

  @Test
  void idempotencyKey_secondCreateReturnsTheFirstBatch() {
    AtomicInteger created = new AtomicInteger();
    BatchService service =
        services.start(
            BatchService.builder()
                .processor("t", ctx -> "ok")
                .listener(
                    new BatchListener() {
                      @Override
                      public void batchCreated(Batch batch) {
                        created.incrementAndGet();
                      }
                    }));
    BatchRequest request =
        BatchRequest.builder("t").items(TestServices.items(3)).idempotencyKey("order-42").build();

    Batch first = service.createBatch(request);
    Batch second = service.createBatch(request);
    Batch third = service.submit(request);

    assertEquals(first.id(), second.id());
    assertEquals(first.id(), third.id());
    assertEquals(BatchStatus.PROCESSING, third.status());
    assertEquals(1, created.get());
    assertEquals(1, service.listBatches(BatchQuery.all()).items().size());
  }

  @Test
  void listener_thatThrowsNeverHarmsTheBatch() {
    BatchListener broken = mock(BatchListener.class);
    RuntimeException boom = new RuntimeException("listener bug");
    doThrow(boom).when(broken).jobStarted(any());
    doThrow(boom).when(broken).jobSucceeded(any(), any());
    doThrow(boom).when(broken).batchFinished(any());
    BatchService service =
        services.start(BatchService.builder().listener(broken).processor("t", ctx -> "ok"));
    Batch batch = service.submit(BatchRequest.builder("t").items(TestServices.items(5)).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status());
    verify(broken, times(5)).jobSucceeded(any(), eq("ok"));
    Await.until(
        "batchFinished was called",
        () ->
            mockingDetails(broken).getInvocations().stream()
                .anyMatch(i -> i.getMethod().getName().equals("batchFinished")));
  }

  @Test
  void jobContext_carriesPayloadMetadataAttemptAndReportsProgress() {
    List<String> progress = Collections.synchronizedList(new ArrayList<>());
    List<Throwable> badProgress = Collections.synchronizedList(new ArrayList<>());
    BatchService service =
        services.start(
            BatchService.builder()
                .listener(
                    new BatchListener() {
                      @Override
                      public void jobProgress(JobContext job, double fraction, String message) {
                        progress.add(job.payload() + ":" + fraction + ":" + message);
                      }
                    })
                .processor(
                    "t",
                    ctx -> {
                      ctx.reportProgress(0.5, "half");
                      try {
                        ctx.reportProgress(1.5, "too far");
                      } catch (IllegalArgumentException e) {
                        badProgress.add(e);
                      }
                      return String.join(
                          "|",
                          ctx.jobType(),
                          ctx.payload(),
                          ctx.batchMetadata().get("tenant"),
                          "" + ctx.attempt(),
                          "" + ctx.isCancelled());
                    }));
    Batch batch =
        service.submit(BatchRequest.builder("t").item("p").metadata("tenant", "acme").build());

    service.awaitCompletion(batch.id(), WAIT);

    assertEquals(Optional.of("t|p|acme|1|false"), onlyJob(service, batch.id()).result());
    assertEquals(List.of("p:0.5:half"), progress);
    assertEquals(1, badProgress.size());
    assertTrue(badProgress.get(0).getMessage().contains("fraction"));
  }

  @Test
  void discovery_findsProcessorProvidersOnTheClassPath() {
    BatchService service = services.start(BatchService.builder());
    Batch batch =
        service.submit(BatchRequest.builder(EchoProcessorProvider.JOB_TYPE).item("hi").build());

    service.awaitCompletion(batch.id(), WAIT);

    assertEquals(Optional.of("echo:hi"), onlyJob(service, batch.id()).result());
  }

  @Test
  void discovery_clashWithARegisteredProcessorNamesBoth() {
    BatchService.Builder builder =
        BatchService.builder().processor(EchoProcessorProvider.JOB_TYPE, ctx -> "x");

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);

    assertTrue(e.getMessage().contains(EchoProcessorProvider.JOB_TYPE), e.getMessage());
    assertTrue(e.getMessage().contains("Builder.processor"), e.getMessage());
    assertTrue(e.getMessage().contains(EchoProcessorProvider.class.getName()), e.getMessage());
    BatchService service =
        services.start(
            BatchService.builder()
                .discoverProcessors(false)
                .processor(EchoProcessorProvider.JOB_TYPE, ctx -> "mine"));
    Batch batch =
        service.submit(BatchRequest.builder(EchoProcessorProvider.JOB_TYPE).item("x").build());
    service.awaitCompletion(batch.id(), WAIT);
    assertEquals(Optional.of("mine"), onlyJob(service, batch.id()).result());
  }

  @Test
  void rateLimit_holdsJobsOfItsTypeBackUntilPermitsCome() {
    AtomicInteger runs = new AtomicInteger();
    BatchService service =
        services.start(
            BatchService.builder()
                .rateLimit("t", 1, Duration.ofMinutes(10))
                .processor("t", ctx -> "" + runs.incrementAndGet())
                .processor("free", ctx -> "ok"));
    Batch limited = service.submit(BatchRequest.builder("t").items(TestServices.items(3)).build());
    Batch free = service.submit(BatchRequest.builder("free").items(TestServices.items(10)).build());

    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(free.id(), WAIT).status());
    Await.until(
        "the first limited job ran",
        () -> service.getBatch(limited.id()).progress().succeeded() == 1);
    Batch later = service.awaitCompletion(limited.id(), Duration.ofMillis(200));

    assertFalse(later.isFinished());
    assertEquals(new Progress(3, 2, 0, 1, 0, 0), later.progress());
    assertEquals(1, runs.get());
  }

  @Test
  void processor_mayCallBackIntoTheService() {
    List<BatchId> children = Collections.synchronizedList(new ArrayList<>());
    AtomicReferenceHolder holder = new AtomicReferenceHolder();
    BatchService service =
        services.start(
            BatchService.builder()
                .processor("child", ctx -> "child-ok")
                .processor(
                    "parent",
                    ctx -> {
                      BatchRequest child =
                          BatchRequest.builder("child").item(ctx.payload()).build();
                      children.add(holder.service.submit(child).id());
                      return "spawned";
                    }));
    holder.service = service;
    Batch parent =
        service.submit(BatchRequest.builder("parent").items(TestServices.items(3)).build());

    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(parent.id(), WAIT).status());
    assertEquals(3, children.size());
    for (BatchId child : children) {
      assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(child, WAIT).status());
    }
  }

  private static final class AtomicReferenceHolder {
    volatile BatchService service;
  }

  @Test
  void completion_completesOnFinishAndDeleteNeedsAFinishedBatch() throws Exception {
    CountDownLatch gate = services.gate();
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      gate.await();
                      return "ok";
                    }));
    Batch batch = service.submit(BatchRequest.builder("t").items(TestServices.items(2)).build());
    CompletableFuture<Batch> future = service.completion(batch.id());
    assertFalse(future.isDone());
    assertFalse(service.awaitCompletion(batch.id(), Duration.ZERO).isFinished());
    IllegalStateException notYet =
        assertThrows(IllegalStateException.class, () -> service.deleteBatch(batch.id()));
    assertTrue(notYet.getMessage().contains(batch.id().toString()), notYet.getMessage());
    gate.countDown();

    Batch done = future.get(30, TimeUnit.SECONDS);

    assertEquals(BatchStatus.COMPLETED, done.status());
    service.deleteBatch(batch.id());
    assertThrows(BatchNotFoundException.class, () -> service.getBatch(batch.id()));
  }

  @Test
  void statistics_countWhatThisServiceRan() {
    BatchService service =
        services.start(
            BatchService.builder()
                .processor(
                    "t",
                    ctx -> {
                      if (ctx.payload().equals("item-0")) {
                        throw new IllegalStateException("one fails");
                      }
                      return "ok";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(10)).maxAttempts(1).build());
    service.awaitCompletion(batch.id(), WAIT);

    BatchStatistics stats = service.statistics();

    assertEquals(9, stats.succeeded());
    assertEquals(1, stats.failed());
    assertEquals(0, stats.running());
    assertEquals(0, stats.queued());
    assertTrue(stats.throughputPerSecond() > 0);
    assertTrue(stats.p50().compareTo(stats.p95()) <= 0);
    assertTrue(stats.p95().compareTo(stats.p99()) <= 0);
  }

  @Test
  void listBatches_filtersAndPagesNewestFirst() {
    BatchService service =
        services.start(
            BatchService.builder().processor("t", ctx -> "ok").processor("u", ctx -> "ok"));
    Batch first =
        service.createBatch(BatchRequest.builder("t").item("1").metadata("tenant", "a").build());
    Batch second =
        service.createBatch(BatchRequest.builder("u").item("2").metadata("tenant", "b").build());
    Batch third =
        service.createBatch(BatchRequest.builder("t").item("3").metadata("tenant", "a").build());

    assertEquals(
        List.of(third.id(), second.id(), first.id()), ids(service.listBatches(BatchQuery.all())));
    assertEquals(
        List.of(third.id(), first.id()),
        ids(service.listBatches(BatchQuery.builder().jobType("t").build())));
    assertEquals(
        List.of(second.id()),
        ids(service.listBatches(BatchQuery.builder().metadata("tenant", "b").build())));
    Page<Batch> page = service.listBatches(BatchQuery.builder().page(1, 1).build());
    assertEquals(List.of(second.id()), ids(page));
    assertTrue(page.hasMore());
    assertEquals(2, page.nextOffset());
  }

  private static List<BatchId> ids(Page<Batch> page) {
    return page.items().stream().map(Batch::id).collect(Collectors.toList());
  }

  @Test
  void close_releasesRunningJobsSoTheNextServiceFinishesThem() throws Exception {
    JobStore store = JobStore.inMemory();
    CountDownLatch twoRunning = new CountDownLatch(2);
    CountDownLatch never = services.gate();
    BatchService first =
        BatchService.builder()
            .store(store)
            .nodeId("first")
            .discoverProcessors(false)
            .shutdownGracePeriod(Duration.ZERO)
            .processor(
                "t",
                ctx -> {
                  twoRunning.countDown();
                  never.await();
                  return "unreachable";
                })
            .build();
    Batch batch =
        first.submit(
            BatchRequest.builder("t").items(TestServices.items(10)).maxConcurrency(2).build());
    assertTrue(twoRunning.await(20, TimeUnit.SECONDS));

    first.close();

    assertNoThreadsOf("first");
    assertEquals(
        new Progress(10, 10, 0, 0, 0, 0), store.findBatch(batch.id()).orElseThrow().progress());
    BatchService second =
        services.start(
            BatchService.builder().store(store).nodeId("second").processor("t", ctx -> "ok"));
    Batch done = second.awaitCompletion(batch.id(), WAIT);
    assertEquals(BatchStatus.COMPLETED, done.status());
    for (Job job : second.getJobs(batch.id(), JobQuery.all()).items()) {
      assertEquals(Optional.of("second"), job.nodeId());
      assertEquals(1, job.attempt(), "the interrupted attempt was given back, not counted");
    }
    IllegalStateException closed =
        assertThrows(IllegalStateException.class, () -> first.getBatch(batch.id()));
    assertTrue(closed.getMessage().contains("closed"));
  }

  @Test
  void close_givesBackAJobWhoseProcessorIgnoresInterrupts() throws Exception {
    JobStore store = JobStore.inMemory();
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch release = services.gate();
    BatchService service =
        BatchService.builder()
            .store(store)
            .nodeId("stubborn")
            .discoverProcessors(false)
            .shutdownGracePeriod(Duration.ZERO)
            .processor(
                "t",
                ctx -> {
                  running.countDown();
                  while (true) {
                    try {
                      if (release.await(10, TimeUnit.SECONDS)) {
                        return "late";
                      }
                    } catch (InterruptedException ignored) {
                      // a badly behaved processor swallows the interrupt and carries on
                    }
                  }
                })
            .build();
    Batch batch = service.submit(BatchRequest.builder("t").item("x").build());
    assertTrue(running.await(20, TimeUnit.SECONDS));

    service.close();

    Job job = store.listJobs(batch.id(), JobQuery.all()).items().get(0);
    assertEquals(JobStatus.QUEUED, job.status());
    assertEquals(0, job.attempt());
    release.countDown();
  }

  @Test
  void close_stopsEveryThreadAndFailsWaiters() {
    BatchService service =
        BatchService.builder().nodeId("quiet").processor("t", ctx -> "ok").build();
    Batch done = service.submit(BatchRequest.builder("t").items(TestServices.items(5)).build());
    service.awaitCompletion(done.id(), WAIT);
    Batch pending = service.createBatch(BatchRequest.builder("t").item("x").build());
    CompletableFuture<Batch> waiter = service.completion(pending.id());
    assertFalse(service.isClosed());

    service.close();
    service.close(); // a second close does nothing

    assertTrue(service.isClosed());
    assertThrows(IllegalStateException.class, () -> service.startBatch(pending.id()));
    assertNoThreadsOf("quiet");
    assertTrue(waiter.isCompletedExceptionally());
  }

  private static void assertNoThreadsOf(String nodeId) {
    Await.until(
        "every thread of " + nodeId + " ended",
        () ->
            Thread.getAllStackTraces().keySet().stream()
                .noneMatch(
                    t ->
                        t.isAlive()
                            && t.getName().startsWith("batchkit-")
                            && t.getName().contains("-" + nodeId + "-")));
  }
}
