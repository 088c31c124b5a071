package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.ConcurrencyProbe;
import io.batchkit.testkit.Stores;
import io.batchkit.testkit.TestServices;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Jobs fetched ahead ({@code Builder.claimAhead} fixes how many): a service leases jobs beyond
 * those it runs, without taking their batch's slots. Its limits, counts, cancellation, timeouts and
 * shutdown must hold as the Javadoc says. Public, so that the SQL stores run it too ({@link
 * #newStore()}).
 */
@Timeout(60)
public class FetchAheadTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  /**
   * The store the tests run on: the in-memory one, which fetches ahead in the dispatch round when
   * {@code claimAhead} says so (by itself it fetches nothing ahead; through {@link #watched} it
   * fetches by measure, as a durable store does).
   */
  protected JobStore newStore() {
    return JobStore.inMemory();
  }

  /** A builder on a new store of {@link #newStore()}. */
  private BatchService.Builder builder() {
    return BatchService.builder().store(newStore());
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
   * Many short jobs through 3 slots and 10 fetched ahead: never more than 3 run, every job runs
   * exactly once and the counts are exact.
   */
  @Test
  void limitsHoldAndEveryJobRunsOnce() {
    ConcurrencyProbe probe = new ConcurrencyProbe();
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    BatchService service =
        services.start(
            builder()
                .maxConcurrency(3)
                .claimAhead(10)
                .processor(
                    "t",
                    ctx -> {
                      probe.enter(ctx);
                      try {
                        runs.computeIfAbsent(ctx.payload(), k -> new AtomicInteger())
                            .incrementAndGet();
                        return "ok";
                      } finally {
                        probe.exit(ctx);
                      }
                    }));
    int jobs = 2_000;
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(jobs)).maxConcurrency(100).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress());
    assertTrue(probe.peak() <= 3, "peak concurrency " + probe.peak());
    assertEquals(jobs, runs.size());
    runs.forEach((payload, count) -> assertEquals(1, count.get(), payload));
  }

  /**
   * The batch's limit bounds the jobs that run, not those fetched ahead: with a limit of 2, 8 slots
   * and 50 fetched ahead, at most 2 run at once, while the batch shows more than 2 processing (the
   * jobs fetched ahead are leased to the service).
   */
  @Test
  void theBatchLimitBoundsRunningJobsNotThoseFetchedAhead() {
    ConcurrencyProbe probe = new ConcurrencyProbe();
    AtomicInteger maxProcessing = new AtomicInteger();
    BatchService[] self = new BatchService[1];
    BatchService service =
        services.start(
            builder()
                .maxConcurrency(8)
                .claimAhead(50)
                .processor(
                    "t",
                    ctx -> {
                      probe.enter(ctx);
                      try {
                        long processing = self[0].getBatch(ctx.batchId()).progress().processing();
                        maxProcessing.accumulateAndGet((int) processing, Math::max);
                        return "ok";
                      } finally {
                        probe.exit(ctx);
                      }
                    }));
    self[0] = service;
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(500)).maxConcurrency(2).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(500, 0, 0, 500, 0, 0), done.progress(), done.toString());
    assertTrue(probe.peak() <= 2, "peak concurrency " + probe.peak());
    assertTrue(maxProcessing.get() > 2, "processing reached only " + maxProcessing.get());
  }

  /**
   * A job fetched ahead behind a job that runs long goes back for a free slot. Node a (1 slot, 1
   * fetched ahead) runs the first of two jobs that wait for each other and holds the second fetched
   * ahead, where a's one slot will not free; node b (1 slot) starts only then and finds nothing
   * queued. Once a gives the second back, b runs it and both end. Without that, the first would
   * wait for the second until it gave up.
   */
  @Test
  void aJobFetchedAheadBehindALongJobGoesBackForAFreeSlot() {
    JobStore store = newStore();
    CyclicBarrier both = new CyclicBarrier(2);
    JobProcessor meet =
        ctx -> {
          both.await(WAIT.toSeconds(), TimeUnit.SECONDS);
          return "ok";
        };
    BatchService a =
        services.start(
            BatchService.builder()
                .store(store)
                .nodeId("a")
                .maxConcurrency(1)
                .claimAhead(1)
                .processor("t", meet));
    Batch batch =
        a.submit(
            BatchRequest.builder("t").items(List.of("first", "second")).maxConcurrency(2).build());
    Await.until(
        "both jobs leased to a, one running and one fetched ahead",
        () -> a.getBatch(batch.id()).progress().processing() == 2);
    services.start(
        BatchService.builder().store(store).nodeId("b").maxConcurrency(1).processor("t", meet));

    Batch done = a.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(2, 0, 0, 2, 0, 0), done.progress(), done.toString());
  }

  /**
   * Jobs fetched ahead that are being started one after another are not stranded, however long the
   * last of them waits. With 16 slots and a batch limited to 1, a node whose dispatcher fetches
   * fetches about 100 ms of work for all 16 slots, which its one slot of the batch takes over a
   * second to start; none of them may be given back (RELEASED) on the way. A store that fetches
   * aside sizes its fetch for the slots the node holds only, so the case does not arise there; and
   * there a fetch may land after the batch's one slot went back, when giving it back is right. The
   * store is watched, which also makes the in-memory one fetch ahead by measure.
   */
  @Test
  void jobsFetchedAheadThatStartInTurnAreNotGivenBack() {
    JobStore inner = newStore();
    assumeFalse(inner.fetchesAside(), "only a dispatcher that fetches sizes fetches by free slots");
    AtomicInteger released = new AtomicInteger();
    JobStore store =
        watched(
            inner,
            (method, args) -> {
              if (method.getName().startsWith("complete")) {
                for (Object outcome : (List<?>) args[0]) {
                  if (((JobOutcome) outcome).kind() == JobOutcome.Kind.RELEASED) {
                    released.incrementAndGet();
                  }
                }
              }
            });
    BatchService service =
        services.start(
            BatchService.builder()
                .store(store)
                .maxConcurrency(16)
                .processor(
                    "t",
                    ctx -> {
                      // the job's own work, not a wait for a condition: 300 of these take the
                      // batch's one slot over a second, longer than a fetched job may wait alone
                      Thread.sleep(5);
                      return "ok";
                    }));
    int jobs = 300;
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(jobs)).maxConcurrency(1).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress(), done.toString());
    assertEquals(0, released.get(), "jobs given back");
  }

  /**
   * Two services on one store, each with 4 slots fetching 20 ahead, share a batch limited to 3:
   * never more than 3 of its jobs run at once over both, and every job runs once.
   */
  @Test
  void twoServicesFetchingAheadShareTheBatchLimit() {
    JobStore store = newStore();
    ConcurrencyProbe probe = new ConcurrencyProbe();
    Map<String, AtomicInteger> runs = new ConcurrentHashMap<>();
    JobProcessor work =
        ctx -> {
          probe.enter(ctx);
          try {
            runs.computeIfAbsent(ctx.payload(), k -> new AtomicInteger()).incrementAndGet();
            return "ok";
          } finally {
            probe.exit(ctx);
          }
        };
    BatchService a =
        services.start(
            BatchService.builder()
                .store(store)
                .nodeId("a")
                .maxConcurrency(4)
                .claimAhead(20)
                .processor("t", work));
    services.start(
        BatchService.builder()
            .store(store)
            .nodeId("b")
            .maxConcurrency(4)
            .claimAhead(20)
            .processor("t", work));
    int jobs = 3_000;
    Batch batch =
        a.submit(
            BatchRequest.builder("t").items(TestServices.items(jobs)).maxConcurrency(3).build());

    Batch done = a.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress(), done.toString());
    assertTrue(probe.peak() <= 3, "peak concurrency " + probe.peak());
    assertEquals(jobs, runs.size());
    runs.forEach((payload, count) -> assertEquals(1, count.get(), payload));
  }

  /**
   * The only slot runs the batch's first job, which blocks, so the five fetched ahead wait;
   * cancelling their batch ends them at once, without running them.
   */
  @Test
  void cancellingABatchEndsItsFetchedJobsAtOnce() {
    CountDownLatch firstRunning = new CountDownLatch(1);
    CountDownLatch never = services.gate();
    AtomicInteger ran = new AtomicInteger();
    BatchService service =
        services.start(
            builder()
                .maxConcurrency(1)
                .claimAhead(5)
                .processor(
                    "t",
                    ctx -> {
                      ran.incrementAndGet();
                      firstRunning.countDown();
                      never.await();
                      return "ok";
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(6)).maxConcurrency(6).build());
    Await.until("the first job to run", WAIT, () -> firstRunning.getCount() == 0);
    Await.until(
        "5 more fetched ahead",
        WAIT,
        () -> service.getBatch(batch.id()).progress().processing() == 6);

    service.cancelBatch(batch.id());
    Batch cancelled = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.CANCELLED, cancelled.status(), cancelled.toString());
    assertEquals(new Progress(6, 0, 0, 0, 0, 6), cancelled.progress());
    assertEquals(1, ran.get(), "only the first job ran");
  }

  /**
   * A failure policy sees each failure before the failed job's slot passes to a job fetched ahead:
   * with a limit of 1 and 20 jobs fetched ahead, all failing, the policy trips at the third failure
   * and no fourth job runs.
   */
  @Test
  void aTrippedFailurePolicyEndsFetchedJobsUnrun() {
    AtomicInteger ran = new AtomicInteger();

    Batch done = runFailingBatchFetchedAhead(newStore(), ran);

    assertEquals(BatchStatus.FAILED, done.status(), done.toString());
    assertEquals(new Progress(30, 0, 0, 0, 3, 27), done.progress());
    assertEquals(3, ran.get(), "jobs run");
  }

  /**
   * A worker whose store throws, even an {@link Error}, as it records a failure for the failure
   * policy still starts or ends the job fetched ahead that it holds: the failure goes to the
   * dispatcher, and the batch finishes with every job counted. The worker records the failure
   * itself only if the jobs fetched ahead reached the node before the first job failed (the test
   * waits for the store's count of them, which comes a moment sooner); that is nearly always, so up
   * to five rounds make sure that the path is taken, each checked in full.
   */
  @Test
  void aFailureTheWorkerCannotRecordStillLetsTheFetchedJobsEnd() {
    AtomicInteger thrown = new AtomicInteger();
    for (int round = 0; round < 5 && thrown.get() == 0; round++) {
      JobStore inner = newStore();
      JobStore store =
          watched(
              inner,
              (method, args) -> {
                if (method.getName().equals("complete")
                    && Thread.currentThread().getName().contains("worker")
                    && thrown.getAndIncrement() == 0) {
                  throw new Error("injected: the store failed as a worker recorded a failure");
                }
              });

      Batch done = runFailingBatchFetchedAhead(store, new AtomicInteger());

      assertEquals(BatchStatus.FAILED, done.status(), done.toString());
      assertEquals(30, done.progress().failed() + done.progress().cancelled(), done.toString());
      assertTrue(done.progress().failed() >= 3, done.toString());
    }
    assertTrue(thrown.get() > 0, "the store never threw, in five rounds");
  }

  /**
   * Runs 30 jobs that all fail, with a batch limit of 1, 20 fetched ahead and a policy that trips
   * at the third failure: the first job holds its slot until the rest are fetched. Counts the jobs
   * run in {@code ran}; returns the batch once it ended.
   */
  private Batch runFailingBatchFetchedAhead(JobStore store, AtomicInteger ran) {
    CountDownLatch fetched = new CountDownLatch(1);
    BatchService service =
        services.start(
            BatchService.builder()
                .store(store)
                .maxConcurrency(1)
                .claimAhead(20)
                .processor(
                    "t",
                    ctx -> {
                      ran.incrementAndGet();
                      fetched.await();
                      throw new IllegalStateException("always");
                    }));
    Batch batch =
        service.submit(
            BatchRequest.builder("t")
                .items(TestServices.items(30))
                .maxConcurrency(1)
                .maxAttempts(1)
                .failurePolicy(FailurePolicy.maxFailures(2))
                .build());
    Await.until(
        "20 fetched ahead of the running job",
        WAIT,
        () -> service.getBatch(batch.id()).progress().processing() == 21);
    fetched.countDown();
    return service.awaitCompletion(batch.id(), WAIT);
  }

  /**
   * Closing gives the jobs fetched ahead back to the store without counting an attempt; another
   * service then runs every job once.
   */
  @Test
  void closeGivesFetchedJobsBack() {
    JobStore store = newStore();
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
        "5 more fetched ahead",
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
   * A job's timeout starts when a worker takes it, not when it was fetched: 100 jobs of 20 ms
   * through one slot take about 2 s, twice their 1 s timeout, and none times out.
   */
  @Test
  void theTimeoutStartsWhenTheJobStartsNotWhenItWasFetched() {
    BatchService service =
        services.start(
            builder()
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

  /**
   * How many jobs are fetched ahead follows the type's measured length (about 100 ms of work for
   * the slots held), and that length includes the job's listeners, which hold its worker too: no-op
   * jobs whose success listener takes 20 ms keep about 5 fetched ahead of one slot, not the most
   * (500, which would lease every job of the batch to this node at once). The store is watched, so
   * that the in-memory one too fetches by measure.
   */
  @Test
  void theMeasuredLengthThatSizesTheFetch_includesTheListeners() {
    AtomicReference<BatchService> started = new AtomicReference<>();
    AtomicLong mostLeased = new AtomicLong();
    BatchListener slow =
        new BatchListener() {
          @Override
          public void jobSucceeded(JobContext job, String result) {
            try {
              Thread.sleep(20); // the listener's own work, which holds the worker
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            long leased = started.get().getBatch(job.batchId()).progress().processing();
            mostLeased.accumulateAndGet(leased, Math::max);
          }
        };
    BatchService service =
        services.start(
            BatchService.builder()
                .store(watched(newStore(), (method, args) -> {}))
                .maxConcurrency(1)
                .listener(slow)
                .processor("t", ctx -> "ok"));
    started.set(service);
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(40)).maxConcurrency(41).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(40, 0, 0, 40, 0, 0), done.progress(), done.toString());
    // the job running, about 5 fetched, and an outcome or two not yet recorded
    assertTrue(mostLeased.get() <= 15, "at most " + mostLeased.get() + " leased at once");
    assertTrue(mostLeased.get() > 3, "nothing fetched ahead: at most " + mostLeased.get());
  }

  /** Sees each call to a store before {@link #watched} passes it on; may throw in its place. */
  private interface StoreCall {
    void before(Method method, Object[] args);
  }

  /** {@code inner}, with each call shown to {@code call} first (which may throw instead). */
  private static JobStore watched(JobStore inner, StoreCall call) {
    return (JobStore)
        Proxy.newProxyInstance(
            JobStore.class.getClassLoader(),
            new Class<?>[] {JobStore.class},
            (proxy, method, args) -> {
              call.before(method, args);
              try {
                return method.invoke(inner, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }
}
