package io.batchkit.benchmarks;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Benchmark 2: the cost per job of claim, run and complete with the in-memory store, in ns/op.
 *
 * <ul>
 *   <li>{@code service}: the real dispatcher. A batch of {@value #JOBS} no-op jobs is stored {@code
 *       PENDING} before each invocation (untimed); the invocation starts it and waits for the end,
 *       so the time is the scheduler's alone: claims, worker hand-offs, outcome queue, completes
 *       and the completion signal. {@code workers} is the service's and the batch's {@code
 *       maxConcurrency}: 1 runs one job at a time, 8 keeps 8 workers busy.
 *   <li>{@code store}: the store's hot path with nothing around it, on one thread: claim a group of
 *       {@code group} jobs, complete the group, repeat until the batch is done. Group 1 is what one
 *       worker costs the store per job; group 8 is what the dispatcher asks for with 8 free slots.
 * </ul>
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 3)
@Fork(
    value = 2,
    jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class DispatchBenchmark {
  static final int JOBS = 20_000;
  private static final Duration LEASE = Duration.ofMinutes(5);
  private static final Duration AGING = Duration.ofSeconds(30);

  /** A service over its own store; a fresh pending batch before each invocation. */
  @State(Scope.Benchmark)
  public static class ServicePath {
    @Param({"1", "8"})
    public int workers;

    JobStore store;
    BatchService service;
    BatchId batch;

    @Setup(Level.Trial)
    public void start() {
      store = JobStore.inMemory();
      service = Fixtures.service(store, workers);
    }

    @Setup(Level.Invocation)
    public void insert() {
      batch = Fixtures.insert(store, JOBS, workers, false);
    }

    @TearDown(Level.Invocation)
    public void delete() {
      service.deleteBatch(batch);
    }

    @TearDown(Level.Trial)
    public void stop() {
      service.close();
    }
  }

  /** A bare store with a fresh started batch before each invocation. */
  @State(Scope.Benchmark)
  public static class StorePath {
    @Param({"1", "8"})
    public int group;

    JobStore store;
    BatchId batch;

    @Setup(Level.Trial)
    public void start() {
      store = JobStore.inMemory();
    }

    @Setup(Level.Invocation)
    public void insert() {
      batch = Fixtures.insert(store, JOBS, group, true);
    }

    @TearDown(Level.Invocation)
    public void delete() {
      store.deleteBatch(batch);
    }
  }

  @Benchmark
  @OperationsPerInvocation(JOBS)
  public Batch service(ServicePath state) {
    state.service.startBatch(state.batch);
    return Fixtures.requireCompleted(
        state.service.awaitCompletion(state.batch, Fixtures.AWAIT), JOBS);
  }

  @Benchmark
  @OperationsPerInvocation(JOBS)
  public int store(StorePath state) {
    JobStore store = state.store;
    Map<String, Integer> types = Map.of(Fixtures.NOOP, state.group);
    int done = 0;
    while (true) {
      Instant now = Instant.now();
      List<ClaimedJob> claimed =
          store.claim(new ClaimRequest("bench", state.group, now, now.plus(LEASE), AGING, types));
      if (claimed.isEmpty()) {
        break;
      }
      List<JobOutcome> outcomes = new ArrayList<>(claimed.size());
      for (ClaimedJob job : claimed) {
        outcomes.add(JobOutcome.succeeded(job, null));
      }
      store.complete(outcomes, now);
      done += claimed.size();
    }
    if (done != JOBS) {
      throw new IllegalStateException("ran " + done + " of " + JOBS + " jobs");
    }
    return done;
  }
}
