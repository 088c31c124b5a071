package io.batchkit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.JobProcessor;
import io.batchkit.jdbc.JdbcJobStore;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Several application nodes sharing one database schema, as the durable benchmarks run them: each
 * node is a service with a pool of its own and a store on the same tables, every setting at its
 * default but the slots. The first node's store creates the schema; {@link #close} drops it.
 */
final class Nodes implements AutoCloseable {
  private final String url;
  private final String prefix = Databases.uniquePrefix();
  private final HikariDataSource[] pools;
  private final BatchService[] services;
  private final JdbcJobStore first;

  /**
   * Starts {@code count} nodes with {@code slots} slots each, running {@link Fixtures#NOOP} jobs
   * with {@code processor}; {@code asyncJobCommits} as {@code
   * JdbcJobStore.Builder.asynchronousJobCommits}.
   */
  Nodes(String url, int count, int slots, JobProcessor processor, boolean asyncJobCommits) {
    this.url = url;
    this.pools = new HikariDataSource[count];
    this.services = new BatchService[count];
    JdbcJobStore firstStore = null;
    for (int i = 0; i < count; i++) {
      pools[i] = Databases.pool(url, DurableEndToEndBenchmark.POOL_SIZE, "node-" + i);
      JdbcJobStore store =
          JdbcJobStore.builder(pools[i])
              .tablePrefix(prefix)
              .createSchema(i == 0)
              .asynchronousJobCommits(asyncJobCommits)
              .build();
      if (i == 0) {
        firstStore = store;
      }
      services[i] = Fixtures.service(store, slots, processor);
    }
    this.first = firstStore;
  }

  /** Stores a pending batch of {@code jobs} jobs with the limit {@code maxConcurrency}. */
  BatchId insert(int jobs, int maxConcurrency) {
    return Fixtures.insert(first, jobs, maxConcurrency, false);
  }

  /**
   * Starts a stored batch and waits until it is done, as seen by the first node to see it (the
   * others learn it moments later); fails unless every job succeeded.
   */
  Batch runToEnd(BatchId batch, int jobs)
      throws InterruptedException, ExecutionException, TimeoutException {
    CompletableFuture<?>[] finished = new CompletableFuture<?>[services.length];
    for (int i = 0; i < services.length; i++) {
      finished[i] = services[i].completion(batch);
    }
    services[0].startBatch(batch);
    Batch done =
        (Batch)
            CompletableFuture.anyOf(finished).get(Fixtures.AWAIT.toMillis(), TimeUnit.MILLISECONDS);
    return Fixtures.requireCompleted(done, jobs);
  }

  /** Deletes a finished batch, untimed. */
  void delete(BatchId batch) {
    services[0].deleteBatch(batch);
  }

  @Override
  public void close() {
    for (BatchService service : services) {
      service.close();
    }
    Databases.drop(pools[0], url, Databases.storeTables(prefix, url));
    for (HikariDataSource pool : pools) {
      pool.close();
    }
  }
}
