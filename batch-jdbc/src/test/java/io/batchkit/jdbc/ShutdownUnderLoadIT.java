package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobProcessor;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.ConcurrencyProbe;
import io.batchkit.testkit.Stores;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;

/**
 * Shutdown under load, on PostgreSQL: {@code close()} on a service while {@value #JOBS} jobs wait
 * and {@value #RUNNING} run, each blocked until the test releases it or it is interrupted. While
 * the service closes (it takes no new work), the test releases {@value #RELEASED_IN_GRACE} of them,
 * which end within the shutdown grace period; the others are interrupted after it and their jobs
 * given back to the store (queued again, attempt not counted). A second service on the same
 * database then finishes the batch.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES)
class ShutdownUnderLoadIT {
  private static final int JOBS = 1_000;
  private static final int RUNNING = 8;
  private static final int RELEASED_IN_GRACE = 3;
  private static final Duration GRACE = Duration.ofSeconds(3);
  private static final String TYPE = "blocking";

  private final String prefix = TestDatabases.uniquePrefix();
  private HikariDataSource dataSource;
  private final List<BatchService> services = new ArrayList<>();

  @BeforeEach
  void createTables() {
    dataSource = TestDatabases.postgres(2 * RUNNING + 4);
    JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
  }

  @AfterEach
  void cleanUp() throws Exception {
    try {
      services.forEach(BatchService::close);
    } finally {
      if (dataSource != null) {
        TestDatabases.drop(dataSource, prefix);
        dataSource.close();
      }
    }
  }

  @Test
  void close_withJobsRunningAndQueued_givesThemBack_andANewServiceFinishesThemAll(
      TestReporter reporter) throws Exception {
    ConcurrencyProbe probe = new ConcurrencyProbe();
    Map<JobId, AtomicInteger> runs = new ConcurrentHashMap<>();
    Set<JobId> interrupted = ConcurrentHashMap.newKeySet();
    Set<JobId> endedInGrace = ConcurrentHashMap.newKeySet();
    CountDownLatch allRunning = new CountDownLatch(RUNNING);
    Semaphore permits = new Semaphore(0);
    JobProcessor blocking =
        ctx -> {
          probe.enter(ctx);
          try {
            runs.computeIfAbsent(ctx.jobId(), k -> new AtomicInteger()).incrementAndGet();
            allRunning.countDown();
            permits.acquire(); // until the test releases it, or close() interrupts it
            endedInGrace.add(ctx.jobId());
            return "ended in the grace period";
          } catch (InterruptedException e) {
            interrupted.add(ctx.jobId());
            throw e;
          } finally {
            probe.exit(ctx);
          }
        };
    BatchService closing = service("closing", blocking, GRACE);
    List<String> payloads = IntStream.range(0, JOBS).mapToObj(i -> "item " + i).toList();
    Batch batch =
        closing.submit(BatchRequest.builder(TYPE).items(payloads).maxConcurrency(RUNNING).build());
    JdbcJobStore store = JdbcJobStore.builder(dataSource).tablePrefix(prefix).build();

    assertTrue(allRunning.await(2, TimeUnit.MINUTES), "the service started " + RUNNING + " jobs");
    assertEquals(RUNNING, probe.current(), "jobs running in the processor");
    assertEquals(
        new Progress(JOBS, JOBS - RUNNING, RUNNING, 0, 0, 0),
        store.findBatch(batch.id()).orElseThrow().progress(),
        "the store before close()");

    long closeStart = System.nanoTime();
    CompletableFuture<Void> closed = CompletableFuture.runAsync(closing::close);
    // close() has begun once the service refuses calls; from then on it claims nothing
    Await.until(
        "close() has begun",
        Duration.ofMinutes(1),
        () -> {
          try {
            closing.getBatch(batch.id());
            return false;
          } catch (IllegalStateException e) {
            return true;
          }
        });
    permits.release(RELEASED_IN_GRACE);
    closed.get(2, TimeUnit.MINUTES); // fails the test if close() does not return
    long closeMillis = Duration.ofNanos(System.nanoTime() - closeStart).toMillis();

    assertEquals(RELEASED_IN_GRACE, endedInGrace.size(), "jobs that ended in the grace period");
    assertEquals(RUNNING - RELEASED_IN_GRACE, interrupted.size(), "jobs interrupted by close()");
    assertEquals(0, probe.current(), "jobs still running after close()");
    assertEquals(RUNNING, probe.peak(), "most jobs at once in the closing service");
    assertThrows(IllegalStateException.class, () -> closing.getBatch(batch.id()));
    Batch afterClose = store.findBatch(batch.id()).orElseThrow();
    assertEquals(BatchStatus.PROCESSING, afterClose.status());
    assertEquals(
        new Progress(JOBS, JOBS - RELEASED_IN_GRACE, 0, RELEASED_IN_GRACE, 0, 0),
        afterClose.progress(),
        "after close(): the interrupted jobs are queued again, the released ones succeeded");
    for (Job job : Stores.allJobs(store, batch.id())) {
      if (interrupted.contains(job.id())) {
        assertEquals(JobStatus.QUEUED, job.status(), "interrupted " + job);
        assertEquals(0, job.attempt(), "the interrupted attempt is not counted: " + job);
      }
    }

    long finishStart = System.nanoTime();
    BatchService finisher =
        service(
            "finisher",
            ctx -> {
              probe.enter(ctx);
              try {
                runs.computeIfAbsent(ctx.jobId(), k -> new AtomicInteger()).incrementAndGet();
                return "finished " + ctx.payload();
              } finally {
                probe.exit(ctx);
              }
            },
            GRACE);
    Batch done = finisher.awaitCompletion(batch.id(), Duration.ofMinutes(3));
    long finishMillis = Duration.ofNanos(System.nanoTime() - finishStart).toMillis();

    assertTrue(done.isFinished(), "the new service finished the batch: " + done);
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(new Progress(JOBS, 0, 0, JOBS, 0, 0), done.progress());
    List<Job> jobs = Stores.allJobs(store, batch.id());
    assertEquals(JOBS, jobs.size());
    assertEquals(payloads, jobs.stream().map(Job::payload).toList(), "every item has its job");
    assertEquals(JOBS, jobs.stream().map(Job::id).distinct().count(), "distinct job ids");
    List<String> unexpected = new ArrayList<>();
    for (Job job : jobs) {
      boolean inGrace = endedInGrace.contains(job.id());
      int expectedRuns = interrupted.contains(job.id()) ? 2 : 1;
      Optional<String> expectedResult =
          Optional.of(inGrace ? "ended in the grace period" : "finished " + job.payload());
      if (job.status() != JobStatus.SUCCEEDED
          || job.attempt() != 1
          || !job.nodeId().equals(Optional.of(inGrace ? "closing" : "finisher"))
          || !job.result().equals(expectedResult)
          || runs.getOrDefault(job.id(), new AtomicInteger()).get() != expectedRuns) {
        unexpected.add(job + " ran " + runs.get(job.id()) + " times");
      }
    }
    assertEquals(List.of(), unexpected.stream().limit(10).toList(), "jobs that ended wrongly");
    assertEquals(0, probe.overlaps(), "a job ran twice at the same time");
    int executions = runs.values().stream().mapToInt(AtomicInteger::get).sum();
    assertEquals(JOBS + RUNNING - RELEASED_IN_GRACE, executions, "processor runs");

    Map<String, String> figures = new LinkedHashMap<>();
    figures.put("jobs", Integer.toString(JOBS));
    figures.put("running at close()", Integer.toString(RUNNING));
    figures.put("queued at close()", Integer.toString(JOBS - RUNNING));
    figures.put("ended in the grace period", Integer.toString(endedInGrace.size()));
    figures.put("interrupted and given back", Integer.toString(interrupted.size()));
    figures.put("close() ms (grace " + GRACE.toMillis() + " ms)", Long.toString(closeMillis));
    figures.put("executions", Integer.toString(executions));
    figures.put("re-executions", Integer.toString(executions - JOBS));
    figures.put("overlaps", Integer.toString(probe.overlaps()));
    figures.put("lost", "0");
    figures.put("new service finished in ms", Long.toString(finishMillis));
    reporter.publishEntry(figures);
    System.out.println("ShutdownUnderLoadIT figures: " + figures);
  }

  private BatchService service(String node, JobProcessor processor, Duration grace) {
    BatchService service =
        BatchService.builder()
            .store(JdbcJobStore.builder(dataSource).tablePrefix(prefix).build())
            .discoverProcessors(false)
            .nodeId(node)
            .maxConcurrency(RUNNING)
            .pollInterval(Duration.ofMillis(50))
            .maxPollInterval(Duration.ofMillis(500))
            .shutdownGracePeriod(grace)
            .processor(TYPE, processor)
            .build();
    services.add(service);
    return service;
  }
}
