package io.batchkit.benchmarks;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The databases the durable benchmarks run on: {@code h2} (in memory, in the benchmark's JVM) and
 * {@code postgres}, a server whose URL comes from the system property {@value #POSTGRES_URL} or the
 * environment variable {@value #POSTGRES_URL_ENV}, else {@value #POSTGRES_DEFAULT}.
 *
 * <p>JMH has no notion of an unavailable parameter: an unreachable PostgreSQL makes the trial's
 * setup throw {@link Unavailable}, JMH reports that one parameter combination as failed and goes on
 * with the next. Pass {@code -p db=h2} (or {@code -p store=memory,h2}) to leave PostgreSQL out.
 */
final class Databases {
  static final String POSTGRES_URL = "batchkit.bench.postgres.url";
  static final String POSTGRES_URL_ENV = "BATCHKIT_BENCH_POSTGRES_URL";
  static final String POSTGRES_DEFAULT = "jdbc:postgresql://127.0.0.1:5432/test?user=root";
  static final String MARIADB_URL = "batchkit.bench.mariadb.url";
  static final String MARIADB_URL_ENV = "BATCHKIT_BENCH_MARIADB_URL";
  static final String MARIADB_DEFAULT = "jdbc:mariadb://127.0.0.1:3306/test?user=root&password=";

  private static final Logger LOG = LoggerFactory.getLogger(Databases.class);

  private Databases() {}

  /** Thrown by a trial's setup when its database cannot be reached: the parameter is skipped. */
  static final class Unavailable extends RuntimeException {
    private static final long serialVersionUID = 1L;

    Unavailable(String message) {
      super(message, null, false, false);
    }
  }

  /**
   * Returns the JDBC URL of a database, {@code h2}, {@code postgres} or {@code mariadb}: for H2 a
   * fresh in-memory database, for a server the configured one after checking that it answers.
   *
   * @throws Unavailable if the server does not answer
   */
  static String url(String db) {
    switch (db) {
      case "h2":
        return "jdbc:h2:mem:bench"
            + UUID.randomUUID().toString().replace("-", "")
            + ";DB_CLOSE_DELAY=-1";
      case "postgres":
        return server("PostgreSQL", POSTGRES_URL, POSTGRES_URL_ENV, POSTGRES_DEFAULT);
      case "mariadb":
        return server("MariaDB", MARIADB_URL, MARIADB_URL_ENV, MARIADB_DEFAULT);
      default:
        throw new IllegalArgumentException("unknown database '" + db + "'");
    }
  }

  private static String server(String name, String property, String env, String fallback) {
    String url = System.getProperty(property, System.getenv(env));
    if (url == null || url.isBlank()) {
      url = fallback;
    }
    try (Connection ignored = DriverManager.getConnection(url)) {
      return url;
    } catch (SQLException e) {
      String message =
          "SKIPPED: "
              + name
              + " is not reachable at "
              + url
              + " ("
              + e.getMessage()
              + "); start it, set -D"
              + property
              + "=<jdbc url>, or leave it out with -p db=h2";
      LOG.warn(message);
      throw new Unavailable(message);
    }
  }

  /** Whether {@code url} is a MySQL or MariaDB one, whose column types differ. */
  static boolean isMysql(String url) {
    return url.startsWith("jdbc:mariadb:") || url.startsWith("jdbc:mysql:");
  }

  /** A HikariCP pool of {@code size} connections. */
  static HikariDataSource pool(String url, int size, String name) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(size);
    config.setPoolName(name);
    return new HikariDataSource(config);
  }

  /** A table prefix no other run uses, so runs sharing a server never meet. */
  static String uniquePrefix() {
    return "bench" + UUID.randomUUID().toString().substring(0, 8).toLowerCase(Locale.ROOT) + "_";
  }

  /** Runs one statement outside a transaction. */
  static void execute(DataSource ds, String sql) {
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    } catch (SQLException e) {
      throw new IllegalStateException(sql + " failed: " + e.getMessage(), e);
    }
  }

  /** Empties tables (the store's or the baseline's) between invocations, untimed. */
  static void truncate(DataSource ds, String... tables) {
    for (String table : tables) {
      execute(ds, "TRUNCATE TABLE " + table);
    }
  }

  /**
   * Drops tables; an H2 database is shut down as well, which frees its memory. Close the pool
   * afterwards.
   */
  static void drop(DataSource ds, String url, String... tables) {
    for (String table : tables) {
      execute(ds, "DROP TABLE IF EXISTS " + table);
      if (url.startsWith("jdbc:postgresql:") && table.endsWith("_batches")) {
        // a store's tables come with its sequence of fencing tokens on PostgreSQL
        String prefix = table.substring(0, table.length() - "batches".length());
        execute(ds, "DROP SEQUENCE IF EXISTS " + prefix + "fencing_tokens");
      }
    }
    if (url.startsWith("jdbc:h2:")) {
      // on a connection of its own: SHUTDOWN closes it, which a pool would report as an error
      try (Connection c = DriverManager.getConnection(url);
          Statement s = c.createStatement()) {
        s.execute("SHUTDOWN");
      } catch (SQLException e) {
        throw new IllegalStateException("H2 SHUTDOWN failed: " + e.getMessage(), e);
      }
    }
  }

  /** The tables of a {@code JdbcJobStore} with this prefix on the database at {@code url}. */
  static String[] storeTables(String prefix, String url) {
    List<String> tables =
        new ArrayList<>(
            List.of(
                prefix + "jobs",
                prefix + "batch_metadata",
                prefix + "batch_requests",
                prefix + "nodes",
                prefix + "batches",
                prefix + "slots",
                prefix + "rate_buckets",
                prefix + "batch_events",
                prefix + "job_attempts",
                prefix + "batch_webhooks",
                prefix + "webhook_deliveries"));
    if (url.startsWith("jdbc:postgresql:")) {
      tables.add(prefix + "fetched"); // its count of the jobs each node fetched ahead
    }
    return tables.toArray(String[]::new);
  }

  /**
   * The CPU time of every process named {@code postgres} on this machine, with that of its ended
   * children, in ms, from {@code /proc} (Linux only; assumes 100 clock ticks a second, Linux's
   * usual value): run on the database's machine, read before and after a run.
   */
  static long postgresCpuMillis() throws IOException {
    long ticks = 0;
    try (DirectoryStream<Path> processes = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
      for (Path process : processes) {
        try {
          if (!"postgres".equals(Files.readString(process.resolve("comm")).trim())) {
            continue;
          }
          String stat = Files.readString(process.resolve("stat"));
          String[] fields = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
          // after the name: utime, stime, cutime and cstime are fields 11 to 14
          for (int i = 11; i <= 14; i++) {
            ticks += Long.parseLong(fields[i]);
          }
        } catch (IOException e) {
          // the process ended while it was read
        }
      }
    }
    return ticks * 10;
  }
}
