package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.Progress;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.JobOutcome;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * On PostgreSQL, outcomes of one batch that keep their slots are recorded without locking the batch
 * row first: they are judged by the batch status the statement reads, and the row is locked only to
 * update its counters. Here, in a fixed order, another transaction holds the batch row while such
 * an outcome (a retry) is recorded, and ends the batch only once the statement has updated the job
 * row and waits for the batch row: the store must see that the status it judged by has changed and
 * record the outcome again, now as cancelled, rather than queue the job in an ended batch.
 */
class OptimisticOutcomeIT {
  private static final String TYPE = "optimistic";
  private static final String NODE = "node-a";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  @Test
  void aBatchEndedWhileTheOutcomeWaitsForItsRow_getsTheRetryCancelled() throws Exception {
    try (SharedTables tables = new SharedTables(() -> TestDatabases.postgres(4))) {
      // the executor ends before the tables are dropped: a call still running would use them
      ExecutorService threads = Executors.newSingleThreadExecutor();
      try {
        JdbcJobStore store = tables.emptyStore();
        DataSource pool = tables.dataSource();
        String prefix = tables.prefix();
        Batch batch = StartedBatches.insert(store, TYPE, 1, 3, T0);
        ClaimedJob job =
            store
                .claim(
                    new ClaimRequest(
                        NODE, 1, T0, T0.plusSeconds(60), Duration.ofMinutes(1), Map.of(TYPE, 1)))
                .get(0);
        // a first attempt of three that failed: judged by a running batch, it is queued again
        JobOutcome retry = JobOutcome.retry(job, "again", T0.plusSeconds(1)).withoutSlot();
        Future<CompletionResult> recorded;
        try (Connection other = pool.getConnection()) {
          other.setAutoCommit(false);
          try (PreparedStatement lock =
              other.prepareStatement(
                  "SELECT id FROM " + prefix + "batches WHERE id = ? FOR UPDATE")) {
            lock.setObject(1, batch.id().value());
            lock.executeQuery().close();
          }
          recorded = threads.submit(() -> store.complete(List.of(retry), T0.plusSeconds(2)));
          // the optimistic form updates the job row before it waits for the batch row; the form
          // that
          // locks the batch row first would wait without holding the job row
          long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
          while (!rowHeld(pool, prefix, job.id())) {
            assertTrue(
                System.nanoTime() < deadline,
                "the outcome statement did not hold the job row while it waited for the batch row");
            TimeUnit.MILLISECONDS.sleep(20);
          }
          assertFalse(recorded.isDone(), "it waits for the batch row");
          // what cancelling a batch whose one job runs does to its row
          try (PreparedStatement cancel =
              other.prepareStatement(
                  "UPDATE "
                      + prefix
                      + "batches SET status = 'CANCELLED', updated_at = ? WHERE id = ?")) {
            cancel.setObject(1, OffsetDateTime.ofInstant(T0.plusSeconds(1), ZoneOffset.UTC));
            cancel.setObject(2, batch.id().value());
            assertEquals(1, cancel.executeUpdate());
          }
          other.commit();
        }
        CompletionResult result = recorded.get(20, TimeUnit.SECONDS);

        assertEquals(Set.of(), result.rejected());
        assertEquals("CANCELLED", jobStatus(pool, prefix, job.id()), "not queued again");
        Batch done = store.findBatch(batch.id()).orElseThrow();
        assertEquals(BatchStatus.CANCELLED, done.status());
        assertEquals(new Progress(1, 0, 0, 0, 0, 1), done.progress());
        assertTrue(done.isFinished(), done.toString());
      } finally {
        // unchecked: an assertion here would hide the one that failed above
        threads.shutdownNow();
        threads.awaitTermination(30, TimeUnit.SECONDS);
      }
    }
  }

  /** Whether another transaction holds the job's row: a lock that does not wait is refused. */
  private static boolean rowHeld(DataSource pool, String prefix, JobId id) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT id FROM " + prefix + "jobs WHERE id = ? FOR UPDATE NOWAIT")) {
      ps.setObject(1, id.value());
      ps.executeQuery().close();
      return false;
    } catch (SQLException e) {
      if ("55P03".equals(e.getSQLState())) { // lock_not_available
        return true;
      }
      throw e;
    }
  }

  private static String jobStatus(DataSource pool, String prefix, JobId id) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT status FROM " + prefix + "jobs WHERE id = ?")) {
      ps.setObject(1, id.value());
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next());
        return rs.getString(1);
      }
    }
  }
}
