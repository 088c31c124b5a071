package io.batchkit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The durable baseline: what a user writes by hand instead of a job library. One plain jobs table
 * with the same job columns batchkit stores, a primary key and one index for the claim; a batched
 * insert to create the jobs; and workers that each take 50 queued rows with {@code SELECT ... FOR
 * UPDATE SKIP LOCKED}, run them, mark them done and commit, until none is left.
 */
final class PlainSqlQueue implements AutoCloseable {
  static final int GROUP = 50;
  private static final int INSERT_BATCH = 1_000;

  private final String url;
  private final HikariDataSource dataSource;
  private final ExecutorService executor;
  private final int workers;
  private final String table = Databases.uniquePrefix() + "plain_jobs";
  private final String markDone;
  private final boolean mysql;
  private final long jobMillis;

  /**
   * Opens the baseline on the database at {@code url}: a pool of {@link
   * DurableEndToEndBenchmark#POOL_SIZE}, a fresh table, and {@code workers} threads whose jobs each
   * take {@code jobMillis} (a sleep; 0 for no-op jobs). On MySQL/MariaDB ids are {@code CHAR(36)}
   * and times {@code DATETIME(6)}, as batchkit stores them. {@link #close} drops it all.
   */
  PlainSqlQueue(String url, int workers, long jobMillis) {
    this(url, workers, jobMillis, DurableEndToEndBenchmark.POOL_SIZE);
  }

  /**
   * The same on a pool of {@code poolSize} connections, which must be at least {@code workers}
   * (each worker holds one connection while it runs): for the baseline of several nodes' worth of
   * workers, whose pools together hold that many.
   */
  PlainSqlQueue(String url, int workers, long jobMillis, int poolSize) {
    if (poolSize < workers) {
      throw new IllegalArgumentException(
          "poolSize must be at least workers (" + workers + "), was " + poolSize);
    }
    this.url = url;
    this.mysql = Databases.isMysql(url);
    this.jobMillis = jobMillis;
    this.workers = workers;
    this.markDone =
        "UPDATE "
            + table
            + " SET status = 'DONE', attempt = attempt + 1, finished_at = ?, updated_at = ?"
            + " WHERE id IN ("
            + String.join(", ", Collections.nCopies(GROUP, "?"))
            + ")";
    this.dataSource = Databases.pool(url, poolSize, "plain");
    this.executor = Executors.newFixedThreadPool(workers);
    try {
      create();
    } catch (RuntimeException e) {
      try {
        Databases.drop(dataSource, url, table); // a table made before the index failed
      } catch (RuntimeException dropFailed) {
        e.addSuppressed(dropFailed);
      }
      executor.shutdownNow();
      dataSource.close();
      throw e;
    }
  }

  /** Creates the table and its claim index. */
  private void create() {
    String id = mysql ? "CHAR(36)" : "UUID";
    String time = mysql ? "DATETIME(6)" : "TIMESTAMP WITH TIME ZONE";
    Databases.execute(
        dataSource,
        "CREATE TABLE "
            + table
            + " (id "
            + id
            + " PRIMARY KEY, batch_id "
            + id
            + " NOT NULL, seq INTEGER NOT NULL,"
            + " payload TEXT NOT NULL, status VARCHAR(16) NOT NULL, attempt INTEGER NOT NULL,"
            + " run_at "
            + time
            + " NOT NULL, finished_at "
            + time
            + ", updated_at "
            + time
            + " NOT NULL)");
    Databases.execute(
        dataSource, "CREATE INDEX " + table + "_claim ON " + table + " (status, seq)");
  }

  /** Inserts {@code n} queued rows in one transaction, as JDBC batches of 1,000. */
  void insert(int n) {
    String sql =
        "INSERT INTO "
            + table
            + " (id, batch_id, seq, payload, status, attempt, run_at, updated_at)"
            + " VALUES (?, ?, ?, ?, 'QUEUED', 0, ?, ?)";
    Object batchId = id(UUID.randomUUID());
    Object now = now();
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        for (int seq = 0; seq < n; seq++) {
          ps.setObject(1, id(UUID.randomUUID()));
          ps.setObject(2, batchId);
          ps.setInt(3, seq);
          ps.setString(4, Fixtures.PAYLOAD);
          ps.setObject(5, now);
          ps.setObject(6, now);
          ps.addBatch();
          if ((seq + 1) % INSERT_BATCH == 0) {
            ps.executeBatch();
          }
        }
        ps.executeBatch();
      }
      c.commit();
      c.setAutoCommit(true);
    } catch (SQLException e) {
      throw new IllegalStateException("plain insert failed: " + e.getMessage(), e);
    }
  }

  /** Runs every queued row on the worker threads; returns how many ran. */
  int runAll() throws InterruptedException, ExecutionException {
    AtomicInteger done = new AtomicInteger();
    List<Future<?>> running = new ArrayList<>();
    for (int i = 0; i < workers; i++) {
      running.add(
          executor.submit(
              () -> {
                work(done);
                return null;
              }));
    }
    for (Future<?> worker : running) {
      worker.get();
    }
    return done.get();
  }

  private void work(AtomicInteger done) throws SQLException {
    String claim =
        "SELECT id, payload FROM "
            + table
            + " WHERE status = 'QUEUED' ORDER BY seq LIMIT "
            + GROUP
            + " FOR UPDATE SKIP LOCKED";
    try (Connection c = dataSource.getConnection()) {
      c.setAutoCommit(false);
      if (mysql) {
        // as batchkit does: InnoDB's default REPEATABLE READ takes gap locks that make these
        // claims deadlock
        c.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
      }
      try (PreparedStatement select = c.prepareStatement(claim);
          PreparedStatement update = c.prepareStatement(markDone)) {
        while (true) {
          List<Object> ids = new ArrayList<>(GROUP);
          List<String> payloads = new ArrayList<>(GROUP);
          try (ResultSet rs = select.executeQuery()) {
            while (rs.next()) {
              ids.add(rs.getObject(1));
              payloads.add(rs.getString(2));
            }
          } catch (SQLException e) {
            if (!"40001".equals(e.getSQLState())) {
              throw e;
            }
            c.rollback(); // a deadlock victim: nothing was claimed, try again
            continue;
          }
          payloads.forEach(this::run);
          if (ids.isEmpty()) {
            c.commit();
            break;
          }
          Object now = now();
          update.setObject(1, now);
          update.setObject(2, now);
          for (int i = 0; i < GROUP; i++) {
            // a short last group repeats its first id: the statement stays one prepared shape
            update.setObject(3 + i, ids.get(i < ids.size() ? i : 0));
          }
          update.executeUpdate();
          c.commit();
          done.addAndGet(ids.size());
        }
      } finally {
        c.setAutoCommit(true);
      }
    }
  }

  /** Empties the table between runs, untimed. */
  void clear() {
    Databases.truncate(dataSource, table);
  }

  @Override
  public void close() throws InterruptedException {
    executor.shutdown();
    executor.awaitTermination(1, TimeUnit.MINUTES);
    Databases.drop(dataSource, url, table);
    dataSource.close();
  }

  /** The job: takes its payload, and sleeps for {@code jobMillis} if that is set. */
  private void run(String payload) {
    if (payload == null) {
      throw new IllegalStateException("payload is NOT NULL");
    }
    if (jobMillis > 0) {
      try {
        Thread.sleep(jobMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted", e);
      }
    }
  }

  private Object id(UUID id) {
    return mysql ? id.toString() : id;
  }

  private Object now() {
    return mysql ? LocalDateTime.now(ZoneOffset.UTC) : OffsetDateTime.now(ZoneOffset.UTC);
  }
}
