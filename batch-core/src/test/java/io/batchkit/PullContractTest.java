package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract of the pull steps ({@link BatchService#poll}, {@link BatchService#complete}, {@link
 * BatchService#fail}, {@link BatchService#extend}) on a store: limits held with workers and
 * processors mixed, stale tokens refused, expired leases given back. Ships in batch-core's
 * test-jar; a store joins by extending it.
 */
public abstract class PullContractTest {
  private static final Duration LEASE = Duration.ofMinutes(1);

  /** The store under test: a fresh one, or an emptied one, per test. */
  protected JobStore store;

  private final TestServices services = new TestServices();
  private final MutableClock clock = new MutableClock();

  /** Returns a new, empty store. Called once before each test. */
  protected abstract JobStore newStore();

  @BeforeEach
  void createStore() {
    store = newStore();
  }

  @AfterEach
  void closeServicesThenStore() throws Exception {
    services.closeAll();
    closeStore();
  }

  /** Closes the store when it is {@link AutoCloseable} (a subclass that shares one overrides). */
  protected void closeStore() throws Exception {
    if (store instanceof AutoCloseable closeable) {
      closeable.close();
    }
  }

  /** A service with no processor, serving workers only. */
  private BatchService workersOnly() {
    return services.start(
        BatchService.builder()
            .store(store)
            .clock(clock)
            .allowUnknownJobTypes(true)
            .retryBackoff(Duration.ofSeconds(10), Duration.ofSeconds(10))
            .retryJitter(0));
  }

  private static BatchRequest gpu(int jobs, int limit) {
    return gpu(jobs, limit, Priority.NORMAL);
  }

  private static BatchRequest gpu(int jobs, int limit, Priority priority) {
    return BatchRequest.builder("gpu")
        .items(TestServices.items(jobs))
        .maxConcurrency(limit)
        .maxAttempts(2)
        .priority(priority)
        .build();
  }

  @Test
  void poll_leasesDueJobs_andCompleteFinishesTheBatch() {
    BatchService service = workersOnly();
    Batch batch = service.submit(gpu(3, 10));

    List<LeasedJob> leased = service.poll("gpu", 5, LEASE);

    assertEquals(3, leased.size());
    Set<String> payloads = new HashSet<>();
    for (LeasedJob job : leased) {
      assertEquals(batch.id(), job.batchId());
      assertEquals("gpu", job.jobType());
      assertEquals(1, job.attempt());
      assertEquals(clock.instant().plus(LEASE), job.leaseExpiry());
      payloads.add(job.payload());
    }
    assertEquals(Set.of("item-0", "item-1", "item-2"), payloads);
    assertEquals(3, leased.stream().map(LeasedJob::token).distinct().count());
    Batch running = service.getBatch(batch.id());
    assertEquals(3, running.progress().count(JobStatus.PROCESSING));
    for (Job job : service.getJobs(batch.id(), JobQuery.all()).items()) {
      assertTrue(job.nodeId().orElseThrow().startsWith("pull:"), job.nodeId().toString());
    }

    for (LeasedJob job : leased) {
      assertTrue(service.complete(job.token(), "done " + job.payload()));
    }

    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(10));
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(3, done.progress().count(JobStatus.SUCCEEDED));
    for (Job job : service.getJobs(batch.id(), JobQuery.all()).items()) {
      assertEquals("done " + job.payload(), job.result().orElseThrow());
    }
    assertEquals(List.of(), service.poll("gpu", 5, LEASE));
  }

  @Test
  void poll_servesOnlyTheTypeAskedFor() {
    BatchService service = workersOnly();
    service.submit(BatchRequest.builder("cpu").items(TestServices.items(2)).build());

    assertEquals(List.of(), service.poll("gpu", 5, LEASE));
    assertEquals(2, service.poll("cpu", 5, LEASE).size());
  }

  @Test
  void poll_servesHigherPrioritiesFirst_andBatchesOfOnePriorityTakeTurns() {
    BatchService service = workersOnly();
    Batch low = service.submit(gpu(4, 10, Priority.LOW));
    clock.advance(Duration.ofMillis(1));
    Batch urgent = service.submit(gpu(2, 10, Priority.URGENT));
    clock.advance(Duration.ofMillis(1));
    Batch urgentToo = service.submit(gpu(2, 10, Priority.URGENT));

    List<BatchId> order = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      clock.advance(Duration.ofMillis(1));
      order.add(service.poll("gpu", 1, LEASE).get(0).batchId());
    }

    assertEquals(
        List.of(urgent.id(), urgentToo.id(), urgent.id(), urgentToo.id(), low.id()), order);
  }

  @Test
  void batchLimit_boundsWorkersAndProcessorsTogether() throws Exception {
    CountDownLatch gate = services.gate();
    AtomicInteger running = new AtomicInteger();
    BatchService service =
        services.start(
            BatchService.builder()
                .store(store)
                .clock(clock)
                .maxConcurrency(1)
                .processor(
                    "gpu",
                    ctx -> {
                      running.incrementAndGet();
                      try {
                        gate.await();
                      } finally {
                        running.decrementAndGet();
                      }
                      return "by processor";
                    }));
    Batch batch = service.submit(gpu(10, 3));
    Await.until("the processor runs a job", () -> running.get() == 1);

    List<LeasedJob> first = service.poll("gpu", 10, LEASE);

    assertEquals(2, first.size(), "3 slots, 1 taken by the service's own processor");
    assertEquals(List.of(), service.poll("gpu", 10, LEASE));
    assertTrue(service.complete(first.get(0).token(), "by worker"));
    List<LeasedJob> second = service.poll("gpu", 10, LEASE);
    assertEquals(1, second.size(), "the slot the worker gave back, no more");
    assertEquals(1, running.get());

    gate.countDown();
    List<LeasedJob> rest = new ArrayList<>(second);
    rest.add(first.get(1));
    for (LeasedJob job : rest) {
      assertTrue(service.complete(job.token(), "by worker"));
    }
    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(30));
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(10, done.progress().count(JobStatus.SUCCEEDED));
  }

  @Test
  void manyWorkersAndProcessorsAtOnce_neverRunMoreThanTheLimit() throws Exception {
    int limit = 4;
    AtomicInteger running = new AtomicInteger();
    AtomicInteger most = new AtomicInteger();
    Runnable started = () -> most.accumulateAndGet(running.incrementAndGet(), Math::max);
    BatchService service =
        services.start(
            BatchService.builder()
                .store(store)
                .clock(clock)
                .maxConcurrency(2)
                .processor(
                    "gpu",
                    ctx -> {
                      started.run();
                      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1)); // some work
                      running.decrementAndGet();
                      return "by processor";
                    }));
    Batch batch = service.submit(gpu(200, limit));
    ExecutorService threads = Executors.newFixedThreadPool(3);
    List<CompletableFuture<Integer>> workers = new ArrayList<>();
    for (int w = 0; w < 3; w++) {
      workers.add(
          CompletableFuture.supplyAsync(
              () -> {
                // each worker holds up to two leases across its polls: counted from the poll that
                // leased them (after their slots were taken) to just before their report
                Deque<LeasedJob> held = new ArrayDeque<>();
                int done = 0;
                while (!service.getBatch(batch.id()).isFinished()) {
                  for (LeasedJob job : service.poll("gpu", 2, LEASE, Duration.ofMillis(20))) {
                    started.run();
                    held.add(job);
                  }
                  if (held.size() >= 2 || (!held.isEmpty() && done % 3 == 0)) {
                    LeasedJob oldest = held.poll();
                    running.decrementAndGet();
                    assertTrue(service.complete(oldest.token(), "by worker"));
                  }
                  done++;
                }
                assertTrue(held.isEmpty(), "a finished batch leaves no lease held");
                return done;
              },
              threads));
    }

    try {
      for (CompletableFuture<Integer> worker : workers) {
        worker.get(120, TimeUnit.SECONDS);
      }
    } finally {
      threads.shutdownNow();
    }
    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(10));
    assertEquals(200, done.progress().count(JobStatus.SUCCEEDED));
    assertTrue(most.get() <= limit, "at most " + limit + " at once, saw " + most.get());
    long pulled =
        service.getJobs(batch.id(), JobQuery.all().page(0, 500)).items().stream()
            .filter(j -> j.result().orElseThrow().equals("by worker"))
            .count();
    assertTrue(pulled > 0 && pulled < 200, "both ran jobs: " + pulled + " by workers");
  }

  @Test
  void expiredLease_givesTheJobBack_andItsTokenIsRefused() {
    BatchService service = workersOnly();
    Batch batch = service.submit(gpu(1, 1));
    LeasedJob stale = service.poll("gpu", 1, LEASE).get(0);

    clock.advance(LEASE.plusSeconds(1));
    store.requeueExpired(clock.instant(), 100);

    Batch requeued = service.getBatch(batch.id());
    assertEquals(1, requeued.progress().count(JobStatus.QUEUED));
    LeasedJob fresh = service.poll("gpu", 1, LEASE).get(0);
    assertEquals(stale.id(), fresh.id());
    assertEquals(2, fresh.attempt());
    assertNotEquals(stale.token(), fresh.token());
    assertFalse(service.complete(stale.token(), "late"));
    assertFalse(service.fail(stale.token(), "late", true));
    assertEquals(LeaseState.LOST, service.extend(stale.token(), LEASE));

    assertTrue(service.complete(fresh.token(), "on time"));
    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(10));
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(
        "on time", service.getJobs(batch.id(), JobQuery.all()).items().get(0).result().get());
  }

  @Test
  void extend_keepsTheJobPastItsFirstExpiry() {
    BatchService service = workersOnly();
    Batch batch = service.submit(gpu(1, 1));
    LeasedJob job = service.poll("gpu", 1, LEASE).get(0);

    clock.advance(LEASE.minusSeconds(1));
    assertEquals(LeaseState.HELD, service.extend(job.token(), LEASE));
    clock.advance(Duration.ofSeconds(2)); // past the first expiry, within the extended one
    store.requeueExpired(clock.instant(), 100);

    assertEquals(1, service.getBatch(batch.id()).progress().count(JobStatus.PROCESSING));
    assertTrue(service.complete(job.token(), "done"));
  }

  @Test
  void aTokenWhoseSecretWasChanged_isRefused() {
    BatchService service = workersOnly();
    Batch batch = service.submit(gpu(1, 1));
    LeasedJob job = service.poll("gpu", 1, LEASE).get(0);
    byte[] bytes = Base64.getUrlDecoder().decode(job.token());
    bytes[bytes.length - 1] ^= 1; // the last byte belongs to the lease's secret
    String forged = Base64.getUrlEncoder().withoutPadding().encodeToString(bytes);

    assertFalse(service.complete(forged, "forged"));
    assertFalse(service.fail(forged, "forged", false));
    assertFalse(service.release(forged));
    assertEquals(LeaseState.LOST, service.extend(forged, LEASE));

    assertEquals(1, service.getBatch(batch.id()).progress().count(JobStatus.PROCESSING));
    assertTrue(service.complete(job.token(), "genuine"));
  }

  @Test
  void release_givesTheJobBackUnstarted_andItsAttemptIsNotCounted() {
    BatchService service = workersOnly();
    Batch batch = service.submit(gpu(1, 1));
    LeasedJob job = service.poll("gpu", 1, LEASE).get(0);

    assertTrue(service.release(job.token()));

    assertFalse(service.release(job.token()));
    assertEquals(1, service.getBatch(batch.id()).progress().count(JobStatus.QUEUED));
    LeasedJob again = service.poll("gpu", 1, LEASE).get(0);
    assertEquals(job.id(), again.id());
    assertEquals(1, again.attempt());
  }

  @Test
  void reportsAfterTheFirst_areRefused() {
    BatchService service = workersOnly();
    service.submit(gpu(1, 1));
    LeasedJob job = service.poll("gpu", 1, LEASE).get(0);

    assertTrue(service.complete(job.token(), "first"));

    assertFalse(service.complete(job.token(), "second"));
    assertFalse(service.fail(job.token(), "second", false));
    assertEquals(LeaseState.LOST, service.extend(job.token(), LEASE));
  }

  @Test
  void fail_retryable_queuesAgainAfterBackoff_untilNoAttemptIsLeft() {
    BatchService service = workersOnly();
    Batch batch = service.submit(gpu(1, 1)); // two attempts
    LeasedJob first = service.poll("gpu", 1, LEASE).get(0);

    assertTrue(service.fail(first.token(), "GPU out of memory", true));

    assertEquals(List.of(), service.poll("gpu", 1, LEASE), "not due before its backoff");
    clock.advance(Duration.ofSeconds(11));
    LeasedJob second = service.poll("gpu", 1, LEASE).get(0);
    assertEquals(2, second.attempt());
    assertTrue(service.fail(second.token(), "GPU out of memory again", true));

    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(10));
    assertEquals(BatchStatus.FAILED, done.status());
    Job job = service.getJobs(batch.id(), JobQuery.all()).items().get(0);
    assertEquals(JobStatus.FAILED, job.status());
    assertEquals("GPU out of memory again", job.error().orElseThrow());
  }

  @Test
  void fail_notRetryable_failsAtOnce() {
    BatchService service = workersOnly();
    Batch batch = service.submit(gpu(1, 1));
    LeasedJob job = service.poll("gpu", 1, LEASE).get(0);

    assertTrue(service.fail(job.token(), "bad input", false));

    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(10));
    assertEquals(1, done.progress().count(JobStatus.FAILED));
  }

  @Test
  void cancelledBatch_extendSaysSo_andTheReportEndsTheJobCancelled() {
    BatchService service = workersOnly();
    Batch batch = service.submit(gpu(2, 1));
    LeasedJob job = service.poll("gpu", 1, LEASE).get(0);

    service.cancelBatch(batch.id());

    assertEquals(LeaseState.CANCELLED, service.extend(job.token(), LEASE));
    assertTrue(service.fail(job.token(), "stopped", false));
    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(10));
    assertEquals(BatchStatus.CANCELLED, done.status());
    assertEquals(2, done.progress().count(JobStatus.CANCELLED));
  }

  @Test
  void rateLimit_ofTheType_holdsForWorkers() {
    BatchService service =
        services.start(
            BatchService.builder()
                .store(store)
                .clock(clock)
                .allowUnknownJobTypes(true)
                .rateLimit("gpu", 1, Duration.ofHours(1)));
    service.submit(gpu(5, 5));

    assertEquals(1, service.poll("gpu", 5, LEASE).size());
    assertEquals(List.of(), service.poll("gpu", 5, LEASE));
  }

  /** A service that would look again only after a minute: only a signal ends a wait sooner. */
  private BatchService slowToLookAgain() {
    return services.add(
        BatchService.builder()
            .store(store)
            .clock(clock)
            .allowUnknownJobTypes(true)
            .pollInterval(BatchService.MAX_POLL_WAIT)
            .build());
  }

  /** Starts a long poll on a thread of its own; returns once that thread waits for work. */
  private static CompletableFuture<List<LeasedJob>> waitingPoll(BatchService service) {
    CompletableFuture<List<LeasedJob>> waiting = new CompletableFuture<>();
    Thread worker =
        new Thread(
            () -> {
              try {
                waiting.complete(service.poll("gpu", 5, LEASE, BatchService.MAX_POLL_WAIT));
              } catch (RuntimeException e) {
                waiting.completeExceptionally(e);
              }
            });
    worker.start();
    Await.until("the poll waits", () -> worker.getState() == Thread.State.TIMED_WAITING);
    return waiting;
  }

  @Test
  void longPoll_returnsWhenWorkAppears() throws Exception {
    BatchService service = slowToLookAgain();
    CompletableFuture<List<LeasedJob>> waiting = waitingPoll(service);

    service.submit(gpu(2, 10));

    // long before the poll would look again on its own
    assertEquals(2, waiting.get(20, TimeUnit.SECONDS).size());
  }

  @Test
  void longPoll_returnsWhenAReportFreesASlot() throws Exception {
    BatchService service = slowToLookAgain();
    service.submit(gpu(2, 1));
    LeasedJob first = service.poll("gpu", 1, LEASE).get(0);
    CompletableFuture<List<LeasedJob>> waiting = waitingPoll(service);

    assertTrue(service.complete(first.token(), "done"));

    assertEquals(1, waiting.get(20, TimeUnit.SECONDS).size());
  }

  @Test
  void longPoll_returnsNothingWhenTheServiceCloses() throws Exception {
    BatchService service = slowToLookAgain();
    CompletableFuture<List<LeasedJob>> waiting = waitingPoll(service);

    service.close();

    assertEquals(List.of(), waiting.get(20, TimeUnit.SECONDS));
  }

  @Test
  void complete_withAnUnstorableResult_isRefused_andTheLeaseStaysHeld() {
    BatchService service = workersOnly();
    service.submit(gpu(1, 1));
    LeasedJob job = service.poll("gpu", 1, LEASE).get(0);

    assertThrows(IllegalArgumentException.class, () -> service.complete(job.token(), "a\u0000b"));

    assertTrue(service.complete(job.token(), "fine"));
  }

  @Test
  void badArguments_areRefused() {
    BatchService service = workersOnly();

    assertThrows(IllegalArgumentException.class, () -> service.poll("gpu", 0, LEASE));
    assertThrows(
        IllegalArgumentException.class,
        () -> service.poll("gpu", BatchService.MAX_POLL_JOBS + 1, LEASE));
    assertThrows(
        IllegalArgumentException.class, () -> service.poll("gpu", 1, Duration.ofMillis(999)));
    assertThrows(IllegalArgumentException.class, () -> service.poll(" ", 1, LEASE));
    assertThrows(
        IllegalArgumentException.class,
        () -> service.poll("gpu", 1, LEASE, BatchService.MAX_POLL_WAIT.plusSeconds(1)));
    assertThrows(NullPointerException.class, () -> service.poll("gpu", 1, null));
    IllegalArgumentException notAToken =
        assertThrows(IllegalArgumentException.class, () -> service.complete("abc", "x"));
    assertEquals("token is not a lease token from BatchService.poll", notAToken.getMessage());
    assertThrows(IllegalArgumentException.class, () -> service.fail("", "x", true));
    assertThrows(NullPointerException.class, () -> service.extend(null, LEASE));
  }
}
