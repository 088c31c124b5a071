package io.batchkit.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import javax.sql.DataSource;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.Assumptions;

/**
 * The databases the tests run on. H2 is always there; PostgreSQL and MariaDB are servers whose URLs
 * come from the system properties {@value #POSTGRES_URL} and {@value #MARIADB_URL} (set by the POM
 * for the CI machine's servers). A server that cannot be reached skips its tests with a message
 * saying how to run them, except under {@code CI=true}, where it fails them: CI must never pass by
 * skipping.
 */
public final class TestDatabases {
  public static final String POSTGRES_URL = "batchkit.test.postgres.url";
  public static final String MARIADB_URL = "batchkit.test.mariadb.url";

  private TestDatabases() {}

  /** A fresh in-memory H2 database, kept until the JVM ends. */
  public static DataSource h2() {
    JdbcDataSource ds = new JdbcDataSource();
    ds.setURL(
        "jdbc:h2:mem:bk" + UUID.randomUUID().toString().replace("-", "") + ";DB_CLOSE_DELAY=-1");
    return ds;
  }

  public static HikariDataSource postgres(int poolSize) {
    return server(
        "PostgreSQL", POSTGRES_URL, "jdbc:postgresql://127.0.0.1:5432/test?user=root", poolSize);
  }

  public static HikariDataSource mariadb(int poolSize) {
    return server(
        "MariaDB", MARIADB_URL, "jdbc:mariadb://127.0.0.1:3306/test?user=root&password=", poolSize);
  }

  private static HikariDataSource server(
      String name, String property, String fallback, int poolSize) {
    String url = System.getProperty(property, fallback);
    try (Connection ignored = DriverManager.getConnection(url)) {
      // reachable
    } catch (SQLException e) {
      String message =
          name
              + " is not reachable at "
              + url
              + " ("
              + e.getMessage()
              + "); start it or set -D"
              + property
              + "=<jdbc url> to run these tests";
      if (isCi()) {
        throw new AssertionError("CI is set, so this is a failure, not a skip: " + message, e);
      }
      Assumptions.abort(message);
    }
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setMaximumPoolSize(poolSize);
    config.setPoolName("batchkit-test-" + name);
    return new HikariDataSource(config);
  }

  /**
   * Whether the CI variable is set: then an unreachable server or tool fails a test, not skips it.
   */
  public static boolean isCi() {
    String ci = System.getenv("CI");
    return ci != null && !ci.isBlank() && !ci.equalsIgnoreCase("false");
  }

  /** A table prefix no other test class uses. */
  public static String uniquePrefix() {
    return "bk" + UUID.randomUUID().toString().substring(0, 8).toLowerCase(Locale.ROOT) + "_";
  }

  /** Empties a store's tables. */
  public static void clear(DataSource ds, String prefix) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      for (String table : tables(prefix)) {
        s.executeUpdate("DELETE FROM " + table);
      }
      if (isPostgres(c)) {
        s.executeUpdate("DELETE FROM " + prefix + "fetched");
      }
    }
  }

  /** Drops a store's tables, and on PostgreSQL its sequence of fencing tokens. */
  public static void drop(DataSource ds, String prefix) throws SQLException {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      for (String table : tables(prefix)) {
        s.executeUpdate("DROP TABLE IF EXISTS " + table);
      }
      if (isPostgres(c)) {
        s.executeUpdate("DROP TABLE IF EXISTS " + prefix + "fetched");
        s.executeUpdate("DROP SEQUENCE IF EXISTS " + prefix + "fencing_tokens");
      }
    }
  }

  /** Whether {@code c} is to PostgreSQL, which alone has the table of jobs fetched ahead. */
  private static boolean isPostgres(Connection c) throws SQLException {
    return c.getMetaData().getDatabaseProductName().equals("PostgreSQL");
  }

  /** The tables every dialect has. */
  private static List<String> tables(String prefix) {
    return List.of(
        prefix + "jobs",
        prefix + "batch_metadata",
        prefix + "batch_requests",
        prefix + "batches",
        prefix + "nodes",
        prefix + "slots",
        prefix + "rate_buckets",
        prefix + "batch_events",
        prefix + "job_attempts",
        prefix + "batch_webhooks",
        prefix + "webhook_deliveries");
  }
}
