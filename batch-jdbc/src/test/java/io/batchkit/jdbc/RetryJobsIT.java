package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * On PostgreSQL {@code retryJobs} holds the jobs' batch rows and reads the job rows without a lock:
 * given a running job, whose outcome statement may hold that job's row while it waits for the batch
 * row, it refuses the job at once instead of waiting for the row (a cycle PostgreSQL would break
 * only after {@code deadlock_timeout}, and a wait as long as any holder's transaction otherwise).
 */
class RetryJobsIT {
  private static final String TYPE = "retry";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  @Test
  void retryJobs_ofARunningJobWhoseRowIsHeld_refusesAtOnce() throws Exception {
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try (SharedTables tables = new SharedTables(() -> TestDatabases.postgres(4))) {
      JdbcJobStore store = tables.emptyStore();
      StartedBatches.insert(store, TYPE, 2, 3, T0);
      List<ClaimedJob> claimed =
          store.claim(
              new ClaimRequest(
                  "node-a", 1, T0, T0.plusSeconds(60), Duration.ofMinutes(1), Map.of(TYPE, 1)));
      assertEquals(1, claimed.size());
      ClaimedJob running = claimed.get(0);
      try (Connection other = tables.dataSource().getConnection()) {
        other.setAutoCommit(false);
        try {
          // as an outcome statement in flight holds it
          try (PreparedStatement lock =
              other.prepareStatement(
                  "SELECT id FROM " + tables.prefix() + "jobs WHERE id = ? FOR UPDATE")) {
            lock.setObject(1, running.id().value());
            assertTrue(lock.executeQuery().next());
          }
          Future<?> retried =
              threads.submit(() -> store.retryJobs(List.of(running.id()), T0.plusSeconds(1)));

          ExecutionException refused =
              assertThrows(ExecutionException.class, () -> retried.get(20, TimeUnit.SECONDS));
          assertInstanceOf(IllegalStateException.class, refused.getCause());
          assertTrue(
              refused.getCause().getMessage().contains("it is PROCESSING"),
              refused.getCause().getMessage());
        } finally {
          other.rollback(); // a call still waiting for the row goes on, before the tables go
          threads.shutdown();
          assertTrue(threads.awaitTermination(30, TimeUnit.SECONDS));
        }
      }
    } finally {
      threads.shutdownNow();
    }
  }
}
