package io.batchkit.benchmarks;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.JobProcessor;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Benchmark 5: jobs that take 20 ms each, on PostgreSQL, with every service setting at its default:
 * how close batchkit comes to the ideal throughput, {@code min(slots, batch limit) / 20 ms}. Each
 * figure is the time of one whole batch (single shot) sized to take {@value #IDEAL_SECONDS} s at
 * the ideal rate: {@code jobs = ideal jobs/s * }{@value #IDEAL_SECONDS}, so the ratio to the ideal
 * is {@value #IDEAL_SECONDS} s divided by the time.
 *
 * <ul>
 *   <li>{@code runBatchkit}: {@code nodes} services with 8 slots and a pool of 10 each share the
 *       database; the batch's limit is {@code batchLimit}, or when that is 0, the slots of all
 *       nodes (so it never binds).
 *   <li>{@code runPlainSql}: the baseline, 8 plain JDBC workers each taking 50 rows with {@code FOR
 *       UPDATE SKIP LOCKED}, running them one after another and marking them done; ideal 400
 *       jobs/s.
 * </ul>
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 1)
@Measurement(iterations = 3)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
public class TimedJobsBenchmark {
  static final long JOB_MILLIS = 20;
  static final int SLOTS = 8;
  static final int IDEAL_SECONDS = 5;

  /** The processor: sleeps for {@link #JOB_MILLIS}. */
  static final JobProcessor SLEEPER =
      context -> {
        Thread.sleep(JOB_MILLIS);
        return null;
      };

  /** The jobs a run at {@code slots} jobs in parallel finishes in {@link #IDEAL_SECONDS}. */
  static int jobsFor(int slots) {
    return (int) (slots * 1000 / JOB_MILLIS * IDEAL_SECONDS);
  }

  /** {@code nodes} services sharing one schema; a pending batch is stored before each run. */
  @State(Scope.Benchmark)
  public static class Run {
    @Param({"1", "3"})
    public int nodes;

    /** The batch's limit; 0 means the slots of all nodes. */
    @Param({"0", "10"})
    public int batchLimit;

    Nodes cluster;
    int jobs;
    int limit;
    BatchId batch;

    @Setup(Level.Trial)
    public void open() {
      limit = batchLimit == 0 ? nodes * SLOTS : batchLimit;
      jobs = jobsFor(Math.min(limit, nodes * SLOTS));
      cluster = new Nodes(Databases.url("postgres"), nodes, SLOTS, SLEEPER, true);
    }

    @Setup(Level.Iteration)
    public void store() {
      batch = cluster.insert(jobs, limit);
    }

    @TearDown(Level.Iteration)
    public void clear() {
      cluster.delete(batch);
    }

    @TearDown(Level.Trial)
    public void close() {
      cluster.close();
    }
  }

  /** The baseline, with rows stored before each run. */
  @State(Scope.Benchmark)
  public static class Plain {
    PlainSqlQueue queue;
    int jobs;

    @Setup(Level.Trial)
    public void open() {
      jobs = jobsFor(SLOTS);
      queue = new PlainSqlQueue(Databases.url("postgres"), SLOTS, JOB_MILLIS);
    }

    @Setup(Level.Iteration)
    public void store() {
      queue.insert(jobs);
    }

    @TearDown(Level.Iteration)
    public void clear() {
      queue.clear();
    }

    @TearDown(Level.Trial)
    public void close() throws InterruptedException {
      queue.close();
    }
  }

  @Benchmark
  public Batch runBatchkit(Run state)
      throws InterruptedException, ExecutionException, TimeoutException {
    return state.cluster.runToEnd(state.batch, state.jobs);
  }

  @Benchmark
  public int runPlainSql(Plain plain) throws InterruptedException, ExecutionException {
    int done = plain.queue.runAll();
    if (done != plain.jobs) {
      throw new IllegalStateException("ran " + done + " of " + plain.jobs + " rows");
    }
    return done;
  }
}
