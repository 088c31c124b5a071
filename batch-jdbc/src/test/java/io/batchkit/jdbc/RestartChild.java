package io.batchkit.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.JobProcessor;
import java.io.IOException;
import java.io.InputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import javax.sql.DataSource;

/**
 * The first life of {@link RestartIT}'s batch, in a JVM of its own that the test kills: builds a
 * store and a service on the database it is given, submits {@value #JOBS} recorded jobs, prints
 * {@value #BATCH_LINE} and the batch id on stdout, and runs until it is killed. It also ends (after
 * closing its service) when its stdin closes, so that it never outlives a test JVM that died.
 *
 * <p>Arguments: the JDBC URL and the table prefix. The execution table must exist ({@link
 * #createExecutionTable}).
 */
public final class RestartChild {
  static final String JOB_TYPE = "restart-recorded";
  static final int JOBS = 300;
  static final int CONCURRENCY = 4;
  static final String NODE = "child";
  static final String BATCH_LINE = "batch ";

  /** The child's lease: short, so that the jobs it leaves behind come back soon after the kill. */
  static final Duration LEASE = Duration.ofSeconds(2);

  /** How long each job works. */
  static final Duration WORK = Duration.ofMillis(40);

  private RestartChild() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      throw new IllegalArgumentException("usage: RestartChild <jdbc url> <table prefix>");
    }
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(args[0]);
    config.setMaximumPoolSize(10);
    config.setPoolName("batchkit-restart-child");
    try (HikariDataSource dataSource = new HikariDataSource(config)) {
      JdbcJobStore store = JdbcJobStore.builder(dataSource).tablePrefix(args[1]).build();
      try (BatchService service =
          BatchService.builder()
              .store(store)
              .discoverProcessors(false)
              .nodeId(NODE)
              .maxConcurrency(CONCURRENCY)
              .leaseDuration(LEASE)
              .pollInterval(Duration.ofMillis(100))
              .processor(JOB_TYPE, recorder(dataSource, args[1], NODE))
              .build()) {
        List<String> payloads = new ArrayList<>(JOBS);
        for (int i = 0; i < JOBS; i++) {
          payloads.add("item " + i);
        }
        Batch batch =
            service.submit(
                BatchRequest.builder(JOB_TYPE)
                    .name("restart")
                    .items(payloads)
                    .maxConcurrency(CONCURRENCY)
                    .build());
        System.out.println(BATCH_LINE + batch.id());
        System.out.flush();
        drain(System.in);
      }
    }
  }

  /** Returns when {@code in} ends, which is when the parent closes it or dies. */
  static void drain(InputStream in) throws IOException {
    byte[] buffer = new byte[256];
    while (in.read(buffer) >= 0) {
      // nothing is expected on stdin; the parent never writes
    }
  }

  /** The table in which every run of a job is recorded. */
  static String executionTable(String prefix) {
    return prefix + "executions";
  }

  static void createExecutionTable(DataSource dataSource, String prefix) throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.executeUpdate(
          "CREATE TABLE "
              + executionTable(prefix)
              + " (run_id VARCHAR(36) PRIMARY KEY, job_id VARCHAR(36) NOT NULL,"
              + " node VARCHAR(100) NOT NULL, attempt INT NOT NULL, started_ms BIGINT NOT NULL,"
              + " ended_ms BIGINT, lease_until_ms BIGINT)");
    }
  }

  static void dropExecutionTable(DataSource dataSource, String prefix) throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.executeUpdate("DROP TABLE IF EXISTS " + executionTable(prefix));
    }
  }

  /**
   * A processor that records each run in the execution table (a row when it starts, its end time
   * when it ends), working {@link #WORK} in between. A run whose JVM was killed keeps no end time.
   */
  static JobProcessor recorder(DataSource dataSource, String prefix, String node) {
    return recorder(dataSource, prefix, node, WORK);
  }

  /**
   * As {@link #recorder(DataSource, String, String)}, working {@code work} per job. The row also
   * keeps the lease the job held when the run started, read from the store's job row (PostgreSQL):
   * the store may hand the job to another run only after that lease, or a later renewal of it,
   * expired.
   */
  static JobProcessor recorder(DataSource dataSource, String prefix, String node, Duration work) {
    String table = executionTable(prefix);
    String jobs = prefix + "jobs";
    return ctx -> {
      String run = UUID.randomUUID().toString();
      long started = System.currentTimeMillis();
      try (Connection c = dataSource.getConnection()) {
        Long leaseUntil = null;
        try (PreparedStatement ps =
            c.prepareStatement("SELECT lease_until FROM " + jobs + " WHERE id = ?")) {
          ps.setObject(1, ctx.jobId().value());
          try (ResultSet rs = ps.executeQuery()) {
            if (rs.next() && rs.getTimestamp(1) != null) {
              leaseUntil = rs.getTimestamp(1).getTime();
            }
          }
        }
        try (PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO "
                    + table
                    + " (run_id, job_id, node, attempt, started_ms, lease_until_ms)"
                    + " VALUES (?, ?, ?, ?, ?, ?)")) {
          ps.setString(1, run);
          ps.setString(2, ctx.jobId().toString());
          ps.setString(3, node);
          ps.setInt(4, ctx.attempt());
          ps.setLong(5, started);
          ps.setObject(6, leaseUntil, Types.BIGINT);
          ps.executeUpdate();
        }
      }
      Thread.sleep(work.toMillis()); // the job's work, not a wait for the test
      try (Connection c = dataSource.getConnection();
          PreparedStatement ps =
              c.prepareStatement("UPDATE " + table + " SET ended_ms = ? WHERE run_id = ?")) {
        ps.setLong(1, System.currentTimeMillis());
        ps.setString(2, run);
        ps.executeUpdate();
      }
      return node;
    };
  }

  /**
   * One recorded run of a job; {@code endedMs} is null if its JVM died first, {@code leaseUntilMs}
   * the lease its job held when it started.
   */
  record Execution(
      String jobId, String node, int attempt, long startedMs, Long endedMs, Long leaseUntilMs) {
    boolean ended() {
      return endedMs != null;
    }
  }

  static List<Execution> executions(DataSource dataSource, String prefix) throws SQLException {
    List<Execution> all = new ArrayList<>();
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement();
        ResultSet rs =
            s.executeQuery(
                "SELECT job_id, node, attempt, started_ms, ended_ms, lease_until_ms FROM "
                    + executionTable(prefix))) {
      while (rs.next()) {
        all.add(
            new Execution(
                rs.getString("job_id"),
                rs.getString("node"),
                rs.getInt("attempt"),
                rs.getLong("started_ms"),
                rs.getObject("ended_ms", Long.class),
                rs.getObject("lease_until_ms", Long.class)));
      }
    }
    return all;
  }
}
