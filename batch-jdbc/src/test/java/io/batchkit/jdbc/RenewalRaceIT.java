package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.Progress;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.JobOutcome;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * On PostgreSQL the outcome statement updates its job rows in whatever order its plan takes them,
 * while a lease renewal updates the same node's rows one by one in id order, holding none of their
 * batches' rows. Run at the same moment over the same jobs, again and again, the two must never
 * wait on each other in a cycle: the renewal passes over rows others hold, and then renews those
 * without holding any other row while it waits. A deadlock would not fail a call (the store reruns
 * the transaction), so the race test reads the database's own count of deadlocks, after the pool's
 * sessions have ended and reported theirs. The other two tests hold a row by hand to show what a
 * renewal passing over it answers.
 */
class RenewalRaceIT {
  private static final String TYPE = "race";
  private static final String NODE = "node-a";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
  private static final int ROUNDS = 100;
  private static final int JOBS = 100;

  @Test
  void outcomesAndRenewalsOfTheSameJobs_neverDeadlock() throws Exception {
    // a database of its own, so that no other session's deadlocks are counted
    String database = "bk_race_" + UUID.randomUUID().toString().replace("-", "");
    try (HikariDataSource admin = TestDatabases.postgres(1)) {
      execute(admin, "CREATE DATABASE " + database);
      try {
        String url =
            admin.getJdbcUrl().replaceFirst("(jdbc:postgresql://[^/]+/)[^?]*", "$1" + database);
        assertTrue(url.contains("/" + database), "the race must run in its own database: " + url);
        HikariDataSource pool = new HikariDataSource();
        pool.setJdbcUrl(url);
        pool.setMaximumPoolSize(4);
        ExecutorService threads = Executors.newFixedThreadPool(2);
        try {
          JdbcJobStore store =
              JdbcJobStore.builder(pool)
                  .tablePrefix(TestDatabases.uniquePrefix())
                  .createSchema(true)
                  .sessionLiveness(false)
                  .build();
          for (int round = 0; round < ROUNDS; round++) {
            race(store, threads, round);
          }
        } finally {
          threads.shutdownNow();
          pool.close(); // its sessions end, and report the deadlocks they saw
        }
        // a session reports its counts as it ends, which the server sees a moment later: wait for
        // every session of the database to have ended, then read for up to two more seconds
        awaitNoSessions(admin, database);
        long deadlocks = deadlocks(admin, database);
        for (int i = 0; i < 20 && deadlocks == 0; i++) {
          TimeUnit.MILLISECONDS.sleep(100);
          deadlocks = deadlocks(admin, database);
        }
        assertEquals(0, deadlocks, "deadlocks during the race");
      } finally {
        dropDatabase(admin, database);
      }
    }
  }

  /**
   * A renewal passes over a job whose row another transaction holds, renews the others without
   * waiting for it, then renews that one alone once the row is free: the answer is the same as if
   * it had waited.
   */
  @Test
  void aRenewalRenewsTheOthersAtOnce_andAHeldJobOnceItsRowIsFree() throws Exception {
    renewBesideAHeldRow(false);
  }

  /** The same, when the transaction that held the row took the job away: it is reported lost. */
  @Test
  void aHeldJobThatTheOtherTransactionTookAway_isReportedLost() throws Exception {
    renewBesideAHeldRow(true);
  }

  private static void renewBesideAHeldRow(boolean takeAway) throws Exception {
    ExecutorService threads = Executors.newSingleThreadExecutor();
    try (SharedTables tables = new SharedTables(() -> TestDatabases.postgres(4))) {
      JdbcJobStore store = tables.emptyStore();
      DataSource pool = tables.dataSource();
      String prefix = tables.prefix();
      insertBatch(store, 2);
      List<ClaimedJob> claimed =
          store.claim(
              new ClaimRequest(
                  NODE, 2, T0, T0.plusSeconds(60), Duration.ofMinutes(1), Map.of(TYPE, 2)));
      ClaimedJob held = claimed.get(0);
      ClaimedJob free = claimed.get(1);
      Instant renewedUntil = T0.plusSeconds(600);
      Future<HeartbeatResult> renewal;
      try (Connection other = pool.getConnection()) {
        other.setAutoCommit(false);
        try (PreparedStatement lock =
            other.prepareStatement("SELECT id FROM " + prefix + "jobs WHERE id = ? FOR UPDATE")) {
          lock.setObject(1, held.id().value());
          lock.executeQuery().close();
        }
        renewal =
            threads.submit(
                () ->
                    store.heartbeat(
                        NODE,
                        Map.of(held.id(), held.fencingToken(), free.id(), free.fencingToken()),
                        renewedUntil));
        // the free job's lease is renewed and committed while the other row is still held
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!renewedUntil.equals(leaseUntil(pool, prefix, free.id()))) {
          assertTrue(System.nanoTime() < deadline, "the free job was not renewed");
          TimeUnit.MILLISECONDS.sleep(20);
        }
        assertFalse(renewal.isDone(), "it waits for the held row");
        assertEquals(T0.plusSeconds(60), leaseUntil(pool, prefix, held.id()));
        if (takeAway) {
          try (PreparedStatement take =
              other.prepareStatement(
                  "UPDATE "
                      + prefix
                      + "jobs SET status = 'QUEUED', owner = NULL, lease_until = NULL"
                      + " WHERE id = ?")) {
            take.setObject(1, held.id().value());
            assertEquals(1, take.executeUpdate());
          }
        }
        other.commit();
      }
      HeartbeatResult result = renewal.get(20, TimeUnit.SECONDS);
      if (takeAway) {
        assertEquals(new HeartbeatResult(Set.of(held.id()), Set.of()), result);
        assertEquals(null, leaseUntil(pool, prefix, held.id()));
      } else {
        assertEquals(new HeartbeatResult(Set.of(), Set.of()), result);
        assertEquals(renewedUntil, leaseUntil(pool, prefix, held.id()));
      }
    } finally {
      threads.shutdownNow();
    }
  }

  private static Instant leaseUntil(DataSource pool, String prefix, JobId id) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT lease_until FROM " + prefix + "jobs WHERE id = ?")) {
      ps.setObject(1, id.value());
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next());
        OffsetDateTime at = rs.getObject(1, OffsetDateTime.class);
        return at == null ? null : at.toInstant();
      }
    }
  }

  /** One round: a fresh batch, all its jobs claimed, then their outcomes and a renewal at once. */
  private static void race(JdbcJobStore store, ExecutorService threads, int round)
      throws Exception {
    Batch batch = insertBatch(store);
    Instant now = T0.plusSeconds(round);
    List<ClaimedJob> claimed =
        store.claim(
            new ClaimRequest(
                NODE, JOBS, now, now.plusSeconds(60), Duration.ofMinutes(1), Map.of(TYPE, JOBS)));
    assertEquals(JOBS, claimed.size());
    Map<JobId, Long> leases = new HashMap<>();
    claimed.forEach(job -> leases.put(job.id(), job.fencingToken()));
    // the outcomes in the opposite order to the renewal's, so that a plan that follows them takes
    // the rows the other way round
    List<JobOutcome> outcomes = new ArrayList<>();
    claimed.stream()
        .sorted(Comparator.comparing(ClaimedJob::id).reversed())
        .forEach(job -> outcomes.add(JobOutcome.succeeded(job, null)));
    CyclicBarrier start = new CyclicBarrier(2);
    Future<CompletionResult> recorded =
        threads.submit(
            () -> {
              start.await();
              return store.complete(outcomes, now.plusMillis(500));
            });
    Future<?> renewed =
        threads.submit(
            () -> {
              start.await();
              return store.heartbeat(NODE, leases, now.plusSeconds(120));
            });
    assertEquals(List.of(), List.copyOf(recorded.get(30, TimeUnit.SECONDS).rejected()));
    renewed.get(30, TimeUnit.SECONDS);
    Batch done = store.findBatch(batch.id()).orElseThrow();
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(new Progress(JOBS, 0, 0, JOBS, 0, 0), done.progress());
  }

  private static Batch insertBatch(JdbcJobStore store) {
    return insertBatch(store, JOBS);
  }

  private static Batch insertBatch(JdbcJobStore store, int size) {
    return StartedBatches.insert(store, TYPE, size, 1, T0);
  }

  private static long deadlocks(HikariDataSource admin, String database) throws SQLException {
    try (Connection c = admin.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT coalesce(sum(deadlocks), 0) FROM pg_stat_database WHERE datname = ?")) {
      ps.setString(1, database);
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next());
        return rs.getLong(1);
      }
    }
  }

  private static void awaitNoSessions(HikariDataSource admin, String database) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    try (Connection c = admin.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = ?"
                    + " AND backend_type = 'client backend'")) {
      ps.setString(1, database);
      while (true) {
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next());
          if (rs.getLong(1) == 0) {
            return;
          }
        }
        assertTrue(System.nanoTime() < deadline, "the race's sessions did not end");
        TimeUnit.MILLISECONDS.sleep(50);
      }
    }
  }

  /** Drops the race's database, ending any session left in it where the server can (13+). */
  private static void dropDatabase(HikariDataSource admin, String database) throws SQLException {
    try {
      execute(admin, "DROP DATABASE " + database + " WITH (FORCE)");
    } catch (SQLException olderServer) {
      execute(admin, "DROP DATABASE " + database);
    }
  }

  private static void execute(HikariDataSource admin, String sql) throws SQLException {
    try (Connection c = admin.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}
