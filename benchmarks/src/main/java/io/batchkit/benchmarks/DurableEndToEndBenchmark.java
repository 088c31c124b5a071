package io.batchkit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.jdbc.JdbcJobStore;
import java.util.List;
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
import org.slf4j.LoggerFactory;

/**
 * Benchmark 4: durable batches on PostgreSQL and MariaDB (when reachable) and H2, each figure the
 * time of one whole batch of {@code jobs} no-op jobs (single shot: jobs/second is {@code jobs}
 * divided by it).
 *
 * <ul>
 *   <li>{@code createBatchkit}: {@code BatchService.createBatch} of a batch, i.e. the time to store
 *       it; {@code createPlainSql}: the baseline, a plain batched insert of the same rows into a
 *       plain jobs table.
 *   <li>{@code runBatchkit}: a stored, pending batch is started and awaited; it runs on {@code
 *       nodes} services that share the database, each with its own HikariCP pool of 10, {@code
 *       maxConcurrency} 8 and every other setting at its default, and a batch limit high enough
 *       never to bind. {@code runPlainSql}: the baseline, 8 plain JDBC workers over one pool of 10
 *       taking 50 rows at a time with {@code FOR UPDATE SKIP LOCKED} and marking them done.
 * </ul>
 *
 * Every trial uses fresh tables and drops them at the end; rows are stored before each timed run
 * and removed after it, untimed.
 */
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class DurableEndToEndBenchmark {
  static final int POOL_SIZE = 10;
  static final int WORKERS = 8;
  static final int BATCH_CONCURRENCY = BatchRequest.MAX_CONCURRENCY;

  /** The system property that lifts the limit on H2 runs; see {@link Db#requireRunnable()}. */
  static final String H2_MAX_RUN_JOBS = "batchkit.bench.h2.maxRunJobs";

  /** The database and the batch size, shared by every benchmark here. */
  @State(Scope.Benchmark)
  public static class Db {
    @Param({"postgres", "h2", "mariadb"})
    public String db;

    @Param({"10000", "100000"})
    public int jobs;

    String url;

    @Setup(Level.Trial)
    public void open() {
      url = Databases.url(db);
    }

    /**
     * Skips a run that H2 cannot finish in JMH's time limit: H2 2.x locks every row that matches
     * {@code SELECT ... ORDER BY ... LIMIT n FOR UPDATE SKIP LOCKED}, not only the n it returns, so
     * each claim (batchkit's and the baseline's) costs time in proportion to the queued jobs, and
     * concurrent claimers find nothing. One 100,000-job batchkit run on H2 took over 10 minutes.
     *
     * @throws Databases.Unavailable if this is H2 and the batch is over the limit
     */
    void requireRunnable() {
      int limit = Integer.getInteger(H2_MAX_RUN_JOBS, 10_000);
      if (db.equals("h2") && jobs > limit) {
        String message =
            "SKIPPED: runs of more than "
                + limit
                + " jobs on H2 are left out, because H2 locks every row matching a claim's"
                + " SELECT ... LIMIT n FOR UPDATE SKIP LOCKED (see RESULTS.md); set -D"
                + H2_MAX_RUN_JOBS
                + "="
                + jobs
                + " and a longer JMH timeout (-to 60m) to run it anyway";
        LoggerFactory.getLogger(DurableEndToEndBenchmark.class).warn(message);
        throw new Databases.Unavailable(message);
      }
    }
  }

  /** One service over a fresh schema, for creating batches; each batch is removed after. */
  @State(Scope.Benchmark)
  public static class Create {
    HikariDataSource pool;
    String prefix;
    BatchService service;
    List<String> items;
    String url;

    @Setup(Level.Trial)
    public void open(Db db) {
      url = db.url;
      pool = Databases.pool(url, POOL_SIZE, "create");
      prefix = Databases.uniquePrefix();
      service =
          Fixtures.service(
              JdbcJobStore.builder(pool).tablePrefix(prefix).createSchema(true).build(), WORKERS);
      items = Fixtures.payloads(db.jobs);
    }

    @TearDown(Level.Iteration)
    public void clear() {
      Databases.truncate(pool, Databases.storeTables(prefix, url));
    }

    @TearDown(Level.Trial)
    public void close() {
      service.close();
      Databases.drop(pool, url, Databases.storeTables(prefix, url));
      pool.close();
    }
  }

  /** {@code nodes} services sharing one schema; a pending batch is stored before each run. */
  @State(Scope.Benchmark)
  public static class Run {
    @Param({"1", "3"})
    public int nodes;

    /**
     * {@code JdbcJobStore.Builder.asynchronousJobCommits}: true is the default; false shows what
     * waiting for the log flush on every claim and outcome costs (PostgreSQL only).
     */
    @Param({"true"})
    public boolean asyncJobCommits;

    Nodes cluster;
    int jobs;
    BatchId batch;

    @Setup(Level.Trial)
    public void open(Db db) {
      db.requireRunnable();
      jobs = db.jobs;
      cluster = new Nodes(db.url, nodes, WORKERS, Fixtures.NOOP_PROCESSOR, asyncJobCommits);
    }

    @Setup(Level.Iteration)
    public void store() {
      batch = cluster.insert(jobs, BATCH_CONCURRENCY);
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

  /** The baseline: its table, pool and 8 worker threads. */
  @State(Scope.Benchmark)
  public static class Plain {
    PlainSqlQueue queue;
    int jobs;

    @Setup(Level.Trial)
    public void open(Db db) {
      jobs = db.jobs;
      queue = new PlainSqlQueue(db.url, WORKERS, 0);
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

  /** The baseline's rows for {@link #runPlainSql}, stored before each run. */
  @State(Scope.Benchmark)
  public static class PlainRows {
    @Setup(Level.Trial)
    public void check(Db db) {
      db.requireRunnable();
    }

    @Setup(Level.Iteration)
    public void store(Plain plain) {
      plain.queue.insert(plain.jobs);
    }
  }

  @Benchmark
  public Batch createBatchkit(Create state) {
    return state.service.createBatch(
        BatchRequest.builder(Fixtures.NOOP)
            .items(state.items)
            .maxConcurrency(BATCH_CONCURRENCY)
            .build());
  }

  @Benchmark
  public int createPlainSql(Plain plain) {
    plain.queue.insert(plain.jobs);
    return plain.jobs;
  }

  @Benchmark
  public Batch runBatchkit(Run state)
      throws InterruptedException, ExecutionException, TimeoutException {
    return state.cluster.runToEnd(state.batch, state.jobs);
  }

  @Benchmark
  public int runPlainSql(Plain plain, PlainRows rows)
      throws InterruptedException, ExecutionException {
    int done = plain.queue.runAll();
    if (done != plain.jobs) {
      throw new IllegalStateException("ran " + done + " of " + plain.jobs + " rows");
    }
    return done;
  }
}
