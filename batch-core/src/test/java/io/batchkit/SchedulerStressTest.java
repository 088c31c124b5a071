package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.BatchStatusRule;
import io.batchkit.spi.JobStore;
import io.batchkit.testkit.ConcurrencyProbe;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;

/**
 * Many batches on two services sharing one store, with random failures, retries, cancellations and
 * retryFailed calls racing each other. Every batch is one iteration; the invariants are checked for
 * each at the end. The seed is reported, and {@code -Dbatchkit.stress.seed=N} replays a run's
 * choices (thread timing still varies).
 */
@Timeout(300)
class SchedulerStressTest {
  private static final int BATCHES = Integer.getInteger("batchkit.stress.batches", 1_200);

  /** What a batch was asked to do, to predict its outcome. */
  private record Plan(Batch batch, int maxAttempts, boolean cancelled, boolean withPolicy) {}

  @Test
  void manyBatchesWithFailuresCancellationsAndRetriesKeepEveryInvariant(TestReporter reporter)
      throws Exception {
    long seed = Long.getLong("batchkit.stress.seed", System.nanoTime());
    reporter.publishEntry("seed", Long.toString(seed));
    Random random = new Random(seed);
    JobStore store = JobStore.inMemory();
    ConcurrencyProbe shared = new ConcurrencyProbe();
    ConcurrencyProbe onA = new ConcurrencyProbe();
    ConcurrencyProbe onB = new ConcurrencyProbe();
    Map<JobId, AtomicInteger> executions = new ConcurrentHashMap<>();

    try (BatchService a = service(store, "stress-a", 4, shared, onA, executions);
        BatchService b = service(store, "stress-b", 3, shared, onB, executions)) {
      List<Plan> plans = new ArrayList<>();
      ExecutorService racers = Executors.newFixedThreadPool(2);
      try {
        List<Future<?>> races = new ArrayList<>();
        for (int i = 0; i < BATCHES; i++) {
          BatchService via = random.nextBoolean() ? a : b;
          int size = 1 + random.nextInt(12);
          int maxAttempts = 1 + random.nextInt(3);
          boolean withPolicy = random.nextInt(10) == 0;
          BatchRequest.Builder request =
              BatchRequest.builder("stress")
                  .name("stress-" + i)
                  .maxAttempts(maxAttempts)
                  .maxConcurrency(1 + random.nextInt(4))
                  .priority(Priority.values()[random.nextInt(4)]);
          if (withPolicy) {
            request.failurePolicy(FailurePolicy.maxFailures(random.nextInt(3)));
          }
          for (int j = 0; j < size; j++) {
            request.item(j + ":" + random.nextInt(4)); // index : attempts that fail
          }
          Batch batch = via.submit(request.build());
          boolean cancel = random.nextInt(8) == 0;
          plans.add(new Plan(batch, maxAttempts, cancel, withPolicy));
          if (cancel) {
            races.add(racers.submit(() -> cancelIfRunning(via, batch.id())));
          }
          if (random.nextInt(6) == 0) {
            races.add(
                via.completion(batch.id()).thenAcceptAsync(done -> retryFailed(via, done), racers));
          }
        }
        for (Future<?> race : races) {
          race.get(120, TimeUnit.SECONDS);
        }
      } finally {
        racers.shutdownNow();
      }

      for (Plan plan : plans) {
        Batch done = a.awaitCompletion(plan.batch().id(), Duration.ofSeconds(120));
        String context = "seed " + seed + ", " + done.name() + " " + done.progress();
        assertTrue(done.isFinished(), "not finished: " + context);
        checkJobsMatchProgress(a, done, plan, context);
        if (done.status() != BatchStatus.CANCELLED && !plan.withPolicy()) {
          assertEquals(
              BatchStatusRule.finalStatus(done.progress(), false, false), done.status(), context);
        }
        assertTrue(
            shared.peak(done.id()) <= done.maxConcurrency(),
            "batch limit exceeded (" + shared.peak(done.id()) + "): " + context);
      }
      assertTrue(onA.peak() <= 4, "service a ran " + onA.peak() + " at once");
      assertTrue(onB.peak() <= 3, "service b ran " + onB.peak() + " at once");
      assertEquals(0, shared.overlaps(), "a job ran twice at the same time, seed " + seed);
      assertEquals(0, a.statistics().running() + b.statistics().running());
      assertEquals(0, store.countQueuedJobs());
    }
  }

  private static void checkJobsMatchProgress(
      BatchService service, Batch done, Plan plan, String context) {
    Map<JobStatus, Long> counted = new EnumMap<>(JobStatus.class);
    List<Job> jobs = service.getJobs(done.id(), JobQuery.all().page(0, 100)).items();
    assertEquals(done.progress().total(), jobs.size(), context);
    for (Job job : jobs) {
      counted.merge(job.status(), 1L, Long::sum);
      assertTrue(job.status().isFinal(), "job not final: " + job + " " + context);
      int failing = Integer.parseInt(job.payload().substring(job.payload().indexOf(':') + 1));
      if (!plan.cancelled() && !plan.withPolicy()) {
        JobStatus expected = failing < plan.maxAttempts() ? JobStatus.SUCCEEDED : JobStatus.FAILED;
        assertEquals(expected, job.status(), job + " " + context);
      }
      if (job.status() == JobStatus.SUCCEEDED) {
        assertEquals(failing + 1, job.attempt(), job + " " + context);
      }
    }
    for (JobStatus status : JobStatus.values()) {
      assertEquals(
          done.progress().count(status),
          (long) counted.getOrDefault(status, 0L),
          status + " " + context);
    }
  }

  private static BatchService service(
      JobStore store,
      String nodeId,
      int maxConcurrency,
      ConcurrencyProbe shared,
      ConcurrencyProbe mine,
      Map<JobId, AtomicInteger> executions) {
    return BatchService.builder()
        .store(store)
        .nodeId(nodeId)
        .discoverProcessors(false)
        .maxConcurrency(maxConcurrency)
        .retryBackoff(Duration.ZERO, Duration.ofMillis(2))
        .pollInterval(Duration.ofMillis(5))
        .processor(
            "stress",
            ctx -> {
              shared.enter(ctx);
              mine.enter(ctx);
              try {
                executions.computeIfAbsent(ctx.jobId(), k -> new AtomicInteger()).incrementAndGet();
                int failing =
                    Integer.parseInt(ctx.payload().substring(ctx.payload().indexOf(':') + 1));
                if (ctx.attempt() <= failing) {
                  throw new IllegalStateException("planned failure " + ctx.attempt());
                }
                return "ok";
              } finally {
                mine.exit(ctx);
                shared.exit(ctx);
              }
            })
        .build();
  }

  private static void cancelIfRunning(BatchService service, BatchId id) {
    try {
      service.cancelBatch(id);
    } catch (IllegalStateException alreadyEnded) {
      // the batch won the race and ended first: that is a legal outcome
    }
  }

  private static void retryFailed(BatchService service, Batch done) {
    if (done.status() == BatchStatus.PARTIAL || done.status() == BatchStatus.FAILED) {
      try {
        service.retryFailed(done.id());
      } catch (IllegalStateException raced) {
        // another retry or a cancellation got there first
      }
    }
  }
}
