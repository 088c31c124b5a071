package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.JobId;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * On PostgreSQL a history purge passes over the rows another transaction holds instead of waiting
 * for them: a {@code deleteBatch} deletes a batch's attempt records by batch, in another order than
 * the purge's, so the two could otherwise wait on each other in a cycle; and the purge runs on the
 * dispatcher thread, which must not wait behind a long delete.
 */
class HistoryPurgeIT {
  private static final String TYPE = "purge";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  @Test
  void aPurgePassesOverAttemptRecordsAnotherTransactionHolds_andTakesThemLater() throws Exception {
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try (SharedTables tables = new SharedTables(() -> TestDatabases.postgres(4))) {
      JdbcJobStore store = tables.emptyStore();
      DataSource pool = tables.dataSource();
      String prefix = tables.prefix();
      StartedBatches.insert(store, TYPE, 2, 3, T0);
      List<ClaimedJob> claimed =
          store.claim(
              new ClaimRequest(
                  "node-a", 2, T0, T0.plusSeconds(60), Duration.ofMinutes(1), Map.of(TYPE, 2)));
      assertEquals(2, claimed.size());
      // each retry leaves an attempt record behind, which may go once the job was claimed again
      // (until then it stands for the job's latest attempt)
      store.complete(
          claimed.stream().map(job -> JobOutcome.retry(job, "again", T0.plusSeconds(2))).toList(),
          T0.plusSeconds(1));
      assertEquals(
          2,
          store
              .claim(
                  new ClaimRequest(
                      "node-a",
                      2,
                      T0.plusSeconds(5),
                      T0.plusSeconds(60),
                      Duration.ofMinutes(1),
                      Map.of(TYPE, 2)))
              .size());
      assertEquals(2, attemptRecords(pool, prefix));
      JobId held = claimed.get(0).id();
      Instant before = T0.plusSeconds(3600);
      try (Connection other = pool.getConnection()) {
        other.setAutoCommit(false);
        try (PreparedStatement lock =
            other.prepareStatement(
                "SELECT job_id FROM " + prefix + "job_attempts WHERE job_id = ? FOR UPDATE")) {
          lock.setObject(1, held.value());
          assertTrue(lock.executeQuery().next());
        }
        Future<Integer> purged = threads.submit(() -> store.purgeHistory(before, 100));
        // it returns while the row is held: the other record and the batch's events are gone
        assertTrue(purged.get(20, TimeUnit.SECONDS) >= 1);
        assertEquals(1, attemptRecords(pool, prefix));
        other.commit();
      }
      store.purgeHistory(before, 100);
      assertEquals(0, attemptRecords(pool, prefix));
    } finally {
      threads.shutdownNow();
    }
  }

  private static long attemptRecords(DataSource pool, String prefix) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM " + prefix + "job_attempts");
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
