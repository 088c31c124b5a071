package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.postgresql.core.BaseConnection;

/**
 * How the PostgreSQL store commits a transaction of claims and outcomes: unless it finished a batch
 * (or {@code asynchronousJobCommits} is off), without waiting for the write-ahead log, by sending
 * the setting together with the commit as the unit's last round trip; the step that finishes a
 * batch waits for the flush. Read from the statements the store prepares, through a data source
 * that records them, and from what another connection sees after each call.
 */
class JobStepCommitIT {
  private static final String TYPE = "commit";
  private static final String NODE = "node-a";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
  private static final String RELAXED_COMMIT = "SET LOCAL synchronous_commit TO OFF; COMMIT";

  private static final String PREFIX = TestDatabases.uniquePrefix();
  private static HikariDataSource pool;

  /**
   * What the store's connections were asked to do, in order: the text of each statement, and each
   * {@code commit()} with the driver's view of the transaction at that moment ("commit() OPEN" when
   * there is still a transaction for it to commit, "commit() IDLE" when the unit committed itself).
   */
  private final List<String> calls = Collections.synchronizedList(new ArrayList<>());

  private DataSource recorded;

  @BeforeAll
  static void open() {
    pool = TestDatabases.postgres(4);
    JdbcJobStore.builder(pool).tablePrefix(PREFIX).createSchema(true).build();
  }

  @AfterAll
  static void close() throws SQLException {
    if (pool != null) {
      TestDatabases.drop(pool, PREFIX);
      pool.close();
    }
  }

  @BeforeEach
  void record() throws SQLException {
    TestDatabases.clear(pool, PREFIX);
    recorded =
        InterceptedConnections.wrap(
            pool,
            (real, method, args) -> {
              if (method.getName().equals("prepareStatement")) {
                calls.add((String) args[0]);
              } else if (method.getName().equals("commit")) {
                calls.add("commit() " + real.unwrap(BaseConnection.class).getTransactionState());
              }
            });
  }

  @Test
  void claimsAndOutcomesThatEndNoBatch_commitWithoutTheFlush_inTheirLastRoundTrip()
      throws SQLException {
    JdbcJobStore store = JdbcJobStore.builder(recorded).tablePrefix(PREFIX).build();
    Batch batch = StartedBatches.insert(store, TYPE, 2, 1, T0);

    calls.clear();
    ClaimedJob job = claimOne(store);
    assertRelaxedLast("the claim");
    assertEquals("PROCESSING", status(job));

    calls.clear();
    store.complete(List.of(JobOutcome.succeeded(job, "done")), T0.plusSeconds(1));
    assertRelaxedLast("an outcome that leaves a job queued");
    assertEquals("SUCCEEDED", status(job));
    assertEquals(BatchStatus.PROCESSING, store.findBatch(batch.id()).orElseThrow().status());
  }

  @Test
  void theOutcomeThatFinishesABatch_waitsForTheFlush() throws SQLException {
    JdbcJobStore store = JdbcJobStore.builder(recorded).tablePrefix(PREFIX).build();
    Batch batch = StartedBatches.insert(store, TYPE, 1, 1, T0);
    ClaimedJob job = claimOne(store);

    calls.clear();
    store.complete(List.of(JobOutcome.succeeded(job, "done")), T0.plusSeconds(1));
    assertNoRelaxedCommit("the step that finished the batch");
    assertEquals(BatchStatus.COMPLETED, store.findBatch(batch.id()).orElseThrow().status());
  }

  @Test
  void withAsynchronousJobCommitsOff_everyStepWaitsForTheFlush() throws SQLException {
    JdbcJobStore store =
        JdbcJobStore.builder(recorded).tablePrefix(PREFIX).asynchronousJobCommits(false).build();
    StartedBatches.insert(store, TYPE, 2, 1, T0);

    calls.clear();
    ClaimedJob job = claimOne(store);
    store.complete(List.of(JobOutcome.succeeded(job, "done")), T0.plusSeconds(1));
    assertNoRelaxedCommit("a claim and an outcome with asynchronousJobCommits(false)");
    assertEquals("SUCCEEDED", status(job));
  }

  private static ClaimedJob claimOne(JdbcJobStore store) {
    List<ClaimedJob> claimed =
        store.claim(
            new ClaimRequest(
                NODE, 1, T0, T0.plusSeconds(60), Duration.ofMinutes(1), Map.of(TYPE, 1)));
    assertEquals(1, claimed.size());
    return claimed.get(0);
  }

  /**
   * The unit's statements end with the relaxed commit, the one statement that touches the setting,
   * and the driver's commit that follows finds no transaction left: the commit took no round trip
   * of its own.
   */
  private void assertRelaxedLast(String step) {
    List<String> seen = List.copyOf(calls);
    List<String> statements = seen.stream().filter(s -> !s.startsWith("commit()")).toList();
    assertFalse(statements.isEmpty(), step + " ran no statement");
    assertEquals(RELAXED_COMMIT, statements.get(statements.size() - 1), step + ": " + seen);
    assertEquals(
        1,
        statements.stream().filter(s -> s.contains("synchronous_commit")).count(),
        step + ": " + seen);
    assertEquals("commit() IDLE", seen.get(seen.size() - 1), step + ": " + seen);
  }

  /** No statement touches the setting, and the driver's commit commits an open transaction. */
  private void assertNoRelaxedCommit(String step) {
    List<String> seen = List.copyOf(calls);
    assertTrue(seen.contains("commit() OPEN"), step + " did not commit: " + seen);
    assertTrue(seen.stream().noneMatch(s -> s.contains("synchronous_commit")), step + ": " + seen);
  }

  /** The job's status as another connection sees it: only what was committed. */
  private static String status(ClaimedJob job) throws SQLException {
    try (Connection c = pool.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT status FROM " + PREFIX + "jobs WHERE id = ?")) {
      ps.setObject(1, job.id().value());
      try (ResultSet rs = ps.executeQuery()) {
        assertTrue(rs.next(), "no job " + job.id());
        return rs.getString(1);
      }
    }
  }
}
