package io.batchkit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.spi.JobStore;
import java.util.concurrent.TimeUnit;
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
 * Benchmark 3: {@code BatchService.getBatch} on one started batch of 1,000, 100,000 or 1,000,000
 * queued jobs, in memory, on H2 (in memory) and on PostgreSQL. The goal is a flat line: the time
 * should not depend on the batch's size. The batch is stored once per trial through {@code
 * JobStore.insertBatch}; the service has no processor for it, so nothing runs while it is read.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
@State(Scope.Benchmark)
public class StatusReadBenchmark {
  @Param({"memory", "h2", "postgres"})
  public String store;

  @Param({"1000", "100000", "1000000"})
  public int jobs;

  private String url;
  private HikariDataSource pool;
  private String prefix;
  private BatchService service;
  private BatchId batch;

  @Setup(Level.Trial)
  public void setUp() {
    JobStore jobStore;
    if (store.equals("memory")) {
      jobStore = JobStore.inMemory();
    } else {
      url = Databases.url(store);
      pool = Databases.pool(url, 10, "status-read");
      prefix = Databases.uniquePrefix();
      jobStore = JdbcJobStore.builder(pool).tablePrefix(prefix).createSchema(true).build();
    }
    batch = Fixtures.insert(jobStore, jobs, 8, true);
    service = BatchService.builder().store(jobStore).discoverProcessors(false).build();
  }

  @TearDown(Level.Trial)
  public void tearDown() {
    if (service != null) {
      service.close();
    }
    if (pool != null) {
      Databases.drop(pool, url, Databases.storeTables(prefix, url));
      pool.close();
    }
  }

  @Benchmark
  public Batch getBatch() {
    return service.getBatch(batch);
  }
}
