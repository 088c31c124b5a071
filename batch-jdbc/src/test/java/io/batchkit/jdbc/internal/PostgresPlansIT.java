package io.batchkit.jdbc.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.BatchId;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.jdbc.SqlDialect;
import io.batchkit.jdbc.TestDatabases;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * PostgreSQL's indexes on the jobs' status are partial (see its {@code V1__batchkit.sql}), and a
 * plan can use a partial index only when the statement names the status as a literal. The reads by
 * status are planned here as a prepared statement may end up once PgJDBC has run it a few times
 * (the worst case): one generic plan for any parameter values ({@code plan_cache_mode =
 * force_generic_plan}), on a batch of 100,000 jobs, and each must read its index rather than the
 * batch in seq order.
 */
class PostgresPlansIT {
  private static final UUID BATCH = UUID.randomUUID();
  private static HikariDataSource pool;
  private static String prefix;
  private static Tables tables;
  private static BatchReads reads;
  private static PostgresSteps steps;

  @BeforeAll
  static void fillOneLargeBatch() throws SQLException {
    pool = TestDatabases.postgres(2);
    prefix = TestDatabases.uniquePrefix();
    JdbcJobStore.builder(pool).tablePrefix(prefix).createSchema(true).build();
    tables = new Tables(new Dialect(SqlDialect.POSTGRESQL), prefix);
    reads = new BatchReads(tables);
    steps = new PostgresSteps(tables);
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      // early in a large batch's run: mostly queued, a tenth succeeded, a few of every other
      // status; a read of the minority statuses must not walk the batch in seq order
      s.execute(
          "INSERT INTO "
              + prefix
              + "jobs (id, batch_id, seq, payload, status, attempt, fencing_token, run_at,"
              + " updated_at, started_at, finished_at) SELECT md5(g::text)::uuid, '"
              + BATCH
              + "', g, 'p', CASE WHEN g % 500 = 1 THEN 'FAILED' WHEN g % 500 = 2 THEN"
              + " 'CANCELLED' WHEN g % 500 = 3 THEN 'PROCESSING' WHEN g < 10000 THEN 'SUCCEEDED'"
              + " ELSE 'QUEUED' END, 1, g, now(), now(), now(), now()"
              + " FROM generate_series(0, 99999) g");
      s.execute("ANALYZE " + prefix + "jobs");
    }
  }

  @AfterAll
  static void dropTables() throws SQLException {
    if (pool == null) {
      return; // the database was not reachable and the class was skipped
    }
    try {
      TestDatabases.drop(pool, prefix);
    } finally {
      pool.close();
    }
  }

  @Test
  void jobDurations_readTheStatusIndex_forSucceededAndFailedJobs() throws SQLException {
    for (JobStatus status : new JobStatus[] {JobStatus.SUCCEEDED, JobStatus.FAILED}) {
      String plan = genericPlan(reads.durationsSql(status), "'" + BATCH + "'", "10000");

      assertReads(plan, "jobs_status");
    }
  }

  @Test
  void listJobsOfABatch_byEndedStatus_readsTheStatusIndex() throws SQLException {
    JobQuery[] queries = {
      JobQuery.withStatus(JobStatus.FAILED),
      JobQuery.withStatus(JobStatus.FAILED, JobStatus.CANCELLED),
      JobQuery.withStatus(JobStatus.SUCCEEDED)
    };
    for (JobQuery query : queries) {
      String plan = genericPlan(reads.listJobsStatement(new BatchId(BATCH), query.page(0, 1000)));

      assertReads(plan, "jobs_status");
    }
  }

  @Test
  void listJobsOfABatch_running_readsTheRunningIndex() throws SQLException {
    String plan =
        genericPlan(
            reads.listJobsStatement(
                new BatchId(BATCH), JobQuery.withStatus(JobStatus.PROCESSING).page(0, 1000)));

    assertReads(plan, "jobs_running");
  }

  /**
   * No index holds a batch's jobs of every status: a listing of running jobs and others, or of all
   * of them page by page, reads each status's index, never the whole table.
   */
  @Test
  void listJobsOfABatch_runningAndOthers_orEveryStatus_readsBothIndexes() throws SQLException {
    JobQuery[] queries = {
      JobQuery.withStatus(JobStatus.QUEUED, JobStatus.PROCESSING).page(0, 1000),
      JobQuery.all().page(50_000, 1000)
    };
    for (JobQuery query : queries) {
      String plan = genericPlan(reads.listJobsStatement(new BatchId(BATCH), query));

      assertReads(plan, "jobs_status");
      assertReads(plan, "jobs_running");
    }
  }

  /**
   * A page of every status starts at its first seq in each index: the bounds on seq are conditions
   * of the index scans, not filters applied to every row before them.
   */
  @Test
  void listJobsOfABatch_everyStatus_boundsSeqInTheIndexScans() throws SQLException {
    String plan =
        genericPlan(reads.listJobsStatement(new BatchId(BATCH), JobQuery.all().page(50_000, 1000)));

    List<String> bounded = plan.lines().filter(line -> line.contains("seq >=")).toList();
    assertFalse(bounded.isEmpty(), plan);
    assertTrue(bounded.stream().allMatch(line -> line.contains("Index Cond:")), plan);
  }

  /**
   * Deleting a batch that is a small part of the table finds its jobs by the status indexes (the
   * large batch here is the whole table, which is best read whole: another batch's plan is asked
   * for, with its value).
   */
  @Test
  void deleteBatch_ofASmallBatch_findsItsJobsByTheStatusIndexes() throws SQLException {
    List<String> deletes = BatchTransitions.deleteJobsSql(tables);
    String other = "'" + UUID.randomUUID() + "'";

    assertReads(plan("force_custom_plan", deletes.get(0), other), "jobs_status");
    assertReads(plan("force_custom_plan", deletes.get(1), other), "jobs_running");
  }

  /**
   * A fetch ahead reads the batch's jobs by an index and leases them by key, never reading the
   * table in seq order (its generic plan guesses {@code LIMIT ?} leaves a tenth of the batch). It
   * starts at its hint ({@link FetchHints}) inside the status index: the bound on seq is a
   * condition of the index scan, so the entries before it are not read.
   */
  @Test
  void fetchAhead_leasesByKey_neverReadingTheJobsTableInSeqOrder() throws SQLException {
    String now = "now()";
    String plan =
        genericPlan(
            steps.fetchSql(),
            "'" + BATCH + "'::uuid",
            now,
            "1000",
            "200",
            "'node'",
            now,
            now,
            now,
            "'" + BATCH + "'::uuid",
            "'node'");

    assertFalse(plan.contains("Seq Scan"), plan);
    assertTrue(plan.contains(prefix + "jobs_pkey"), plan);
    assertReads(plan, "jobs_status");
    List<String> bounded = plan.lines().filter(line -> line.contains("seq >=")).toList();
    assertFalse(bounded.isEmpty(), plan);
    assertTrue(bounded.stream().allMatch(line -> line.contains("Index Cond:")), plan);
  }

  /** A claim never reads the jobs table in seq order, whatever its estimates. */
  @Test
  void claim_neverReadsTheJobsTableInSeqOrder() throws SQLException {
    String now = "now()";
    String types = "ARRAY['t']::text[]";
    String plan =
        genericPlan(
            steps.claimSql(),
            types,
            "1000",
            "8",
            "1000",
            now,
            "8",
            types,
            "ARRAY[8]::int[]",
            "'node'",
            now,
            now,
            now,
            "8",
            "0",
            "0",
            now);

    assertFalse(plan.contains("Seq Scan on " + prefix + "jobs"), plan);
  }

  /**
   * The outcome statement, in both its forms, finds each job by its key, never reading the jobs
   * table in seq order: planned once for any group (generic), and for a group of 1,000 outcomes (a
   * plan made for those values, as the first runs of a prepared statement get).
   */
  @Test
  void complete_findsJobsByKey_neverReadingTheJobsTableInSeqOrder() throws SQLException {
    for (int n : new int[] {1, 1000}) {
      List<String> ids = new ArrayList<>();
      for (int g = 10_000; g < 10_000 + n; g++) {
        ids.add(md5Uuid(g));
      }
      String now = "now()";
      String[] args = {
        "ARRAY['" + BATCH + "']::uuid[]",
        "'{" + String.join(",", ids) + "}'::uuid[]",
        array(n, "1") + "::bigint[]",
        array(n, "SUCCEEDED") + "::text[]",
        array(n, "NULL") + "::text[]",
        array(n, "NULL") + "::text[]",
        array(n, "NULL") + "::bigint[]",
        array(n, "false") + "::boolean[]",
        array(n, "NULL") + "::bigint[]",
        array(n, "false") + "::boolean[]",
        now,
        now,
        now,
        now,
        now
      };
      for (String sql : new String[] {steps.completeSql(), steps.completeOptimisticSql()}) {
        for (String mode : new String[] {"force_generic_plan", "force_custom_plan"}) {
          String plan = plan(mode, sql, args);
          String where = mode + ", " + n + "\n" + plan;

          assertFalse(plan.contains("Seq Scan on " + prefix + "jobs"), where);
          assertTrue(plan.contains(prefix + "jobs_pkey"), where);
        }
      }
    }
  }

  /** The id the table's filling gives job {@code g}: {@code md5(g::text)::uuid}. */
  private static String md5Uuid(int g) {
    try {
      byte[] digest =
          MessageDigest.getInstance("MD5")
              .digest(Integer.toString(g).getBytes(StandardCharsets.US_ASCII));
      String hex = HexFormat.of().formatHex(digest);
      return hex.substring(0, 8)
          + "-"
          + hex.substring(8, 12)
          + "-"
          + hex.substring(12, 16)
          + "-"
          + hex.substring(16, 20)
          + "-"
          + hex.substring(20);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** An array literal of {@code n} copies of {@code element}. */
  private static String array(int n, String element) {
    return "'{" + String.join(",", Collections.nCopies(n, element)) + "}'";
  }

  private static void assertReads(String plan, String index) {
    assertTrue(plan.contains(prefix + index), plan);
    assertFalse(plan.contains("Seq Scan"), plan);
  }

  /** {@link #genericPlan(String, String...)} for a statement with its arguments. */
  private static String genericPlan(BatchReads.Statement statement) throws SQLException {
    List<String> literals = new ArrayList<>();
    for (Object arg : statement.args()) {
      literals.add(arg instanceof UUID ? "'" + arg + "'" : String.valueOf(arg));
    }
    return genericPlan(statement.sql(), literals.toArray(String[]::new));
  }

  /**
   * Returns the plan PostgreSQL makes for {@code sql} once for any parameter values: its {@code ?}
   * become {@code $1}, {@code $2}, ..., and {@code args} are the SQL literals to execute it with.
   */
  private static String genericPlan(String sql, String... args) throws SQLException {
    return plan("force_generic_plan", sql, args);
  }

  /** Returns the plan for {@code sql} as {@link #genericPlan}, made as {@code mode} says. */
  private static String plan(String mode, String sql, String... args) throws SQLException {
    StringBuilder numbered = new StringBuilder();
    int n = 0;
    for (char ch : sql.toCharArray()) {
      if (ch == '?') {
        numbered.append('$').append(++n);
      } else {
        numbered.append(ch);
      }
    }
    StringBuilder plan = new StringBuilder();
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement()) {
      boolean prepared = false;
      try {
        s.execute("SET plan_cache_mode = " + mode);
        s.execute("PREPARE planned AS " + numbered);
        prepared = true;
        try (ResultSet rs =
            s.executeQuery("EXPLAIN EXECUTE planned(" + String.join(", ", args) + ")")) {
          while (rs.next()) {
            plan.append(rs.getString(1)).append('\n');
          }
        }
      } finally {
        // the pooled connection goes back as it came: no statement of ours, the default plans
        try (Statement reset = c.createStatement()) {
          if (prepared) {
            reset.execute("DEALLOCATE planned");
          }
        } finally {
          try (Statement reset = c.createStatement()) {
            reset.execute("RESET plan_cache_mode");
          }
        }
      }
    }
    return plan.toString();
  }
}
