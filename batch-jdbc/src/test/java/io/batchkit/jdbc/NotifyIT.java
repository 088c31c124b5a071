package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * On PostgreSQL, a node that polls only once a minute still runs work created on another node at
 * once, and sees a batch that another node finished at once, because the store announces new work
 * and finished batches with NOTIFY and listens with LISTEN.
 */
@Timeout(120)
class NotifyIT {
  private final String prefix = TestDatabases.uniquePrefix();
  private HikariDataSource db;

  @BeforeEach
  void open() {
    db = TestDatabases.postgres(6);
  }

  @AfterEach
  void drop() throws Exception {
    TestDatabases.drop(db, prefix);
    db.close();
  }

  /**
   * The node that waits has no processor and polls once a minute, and it waits for 30 s: only the
   * store's notification can tell it in time that the other node finished the batch.
   */
  @Test
  void batchFinishedOnOneNode_completesTheAwaitOfANodeThatPollsRarely() throws Exception {
    JdbcJobStore workerStore =
        JdbcJobStore.builder(db).tablePrefix(prefix).createSchema(true).build();
    JdbcJobStore waiterStore = JdbcJobStore.builder(db).tablePrefix(prefix).build();
    try (BatchService worker =
            BatchService.builder()
                .store(workerStore)
                .nodeId("worker")
                .discoverProcessors(false)
                .processor("t", ctx -> "done " + ctx.payload())
                .build();
        BatchService waiter =
            BatchService.builder()
                .store(waiterStore)
                .nodeId("waiter")
                .discoverProcessors(false)
                .allowUnknownJobTypes(true)
                .pollInterval(Duration.ofMinutes(1))
                .maxPollInterval(Duration.ofMinutes(1))
                .build()) {
      for (int round = 0; round < 3; round++) {
        Batch batch =
            waiter.submit(BatchRequest.builder("t").items(java.util.List.of("a", "b")).build());
        java.util.concurrent.CompletableFuture<Batch> seen = waiter.completion(batch.id());

        Batch done = waiter.awaitCompletion(batch.id(), Duration.ofSeconds(30));

        assertEquals(BatchStatus.COMPLETED, done.status(), "round " + round + ": " + done);
        assertEquals(2, done.progress().succeeded());
        assertEquals(
            BatchStatus.COMPLETED,
            seen.get(5, java.util.concurrent.TimeUnit.SECONDS).status(),
            "the future completed too");
      }
    }
  }

  @Test
  void workCreatedOnOneNode_wakesAnIdleNodeThatPollsRarely() {
    AtomicInteger runs = new AtomicInteger();
    JdbcJobStore workerStore =
        JdbcJobStore.builder(db).tablePrefix(prefix).createSchema(true).build();
    JdbcJobStore frontStore = JdbcJobStore.builder(db).tablePrefix(prefix).build();
    try (BatchService worker =
            BatchService.builder()
                .store(workerStore)
                .nodeId("sleepy")
                .discoverProcessors(false)
                .pollInterval(Duration.ofMinutes(1))
                .processor("t", ctx -> "" + runs.incrementAndGet())
                .build();
        BatchService front =
            BatchService.builder()
                .store(frontStore)
                .nodeId("front")
                .discoverProcessors(false)
                .allowUnknownJobTypes(true)
                .pollInterval(Duration.ofMillis(50))
                .build()) {
      Batch first = front.submit(BatchRequest.builder("t").item("one").build());
      assertEquals(
          BatchStatus.COMPLETED,
          front.awaitCompletion(first.id(), Duration.ofSeconds(30)).status());

      Batch second =
          front.submit(BatchRequest.builder("t").items(java.util.List.of("a", "b")).build());

      Batch done = front.awaitCompletion(second.id(), Duration.ofSeconds(30));
      assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
      assertEquals(3, runs.get());
      assertEquals("sleepy", worker.nodeId());
    }
  }
}
