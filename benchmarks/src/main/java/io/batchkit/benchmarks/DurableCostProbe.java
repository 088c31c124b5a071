package io.batchkit.benchmarks;

import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

/**
 * What a batch costs PostgreSQL besides its time (not JMH: it reads CPU times and the write-ahead
 * log, which JMH does not report): rounds of 100,000 no-op jobs on {@link Nodes} (as {@code
 * DurableEndToEndBenchmark} runs them), each followed by the same rows through {@link
 * PlainSqlQueue}, in one JVM. Per run alone (the rows are stored before it, untimed) it prints the
 * time, PostgreSQL's CPU per job (its server processes' times from {@code /proc}: run it on the
 * database's machine, Linux only), this JVM's CPU per job, the WAL written per job and the
 * transactions that wrote (took a transaction id) per 1,000 jobs.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.batchkit.benchmarks.DurableCostProbe [rounds] [nodes]
 * }</pre>
 */
public final class DurableCostProbe {
  private static final int JOBS = 100_000;

  private DurableCostProbe() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int nodes = args.length > 1 ? Integer.parseInt(args[1]) : 1;
    String url = Databases.url("postgres");
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    try (Nodes cluster =
        new Nodes(url, nodes, DurableEndToEndBenchmark.WORKERS, Fixtures.NOOP_PROCESSOR, true)) {
      PlainSqlQueue plain = new PlainSqlQueue(url, DurableEndToEndBenchmark.WORKERS, 0);
      try {
        for (int round = 0; round < rounds; round++) {
          BatchId batch = cluster.insert(JOBS, BatchRequest.MAX_CONCURRENCY);
          Cost run = Cost.start(url, os);
          cluster.runToEnd(batch, JOBS);
          String batchkit = run.end(url, os);
          cluster.delete(batch);
          plain.insert(JOBS);
          Cost baseline = Cost.start(url, os);
          plain.runAll();
          String plainSql = baseline.end(url, os);
          plain.clear();
          System.out.printf("round %d: batchkit %s; plain SQL %s%n", round, batchkit, plainSql);
        }
      } finally {
        plain.close();
      }
    }
  }

  /** The counters at a run's start. */
  private record Cost(long nanos, long serverMillis, long jvmNanos, long wal, long xid) {
    static Cost start(String url, com.sun.management.OperatingSystemMXBean os)
        throws IOException, SQLException {
      return new Cost(
          System.nanoTime(),
          serverCpuMillis(),
          os.getProcessCpuTime(),
          walBytes(url),
          transactionId(url));
    }

    String end(String url, com.sun.management.OperatingSystemMXBean os)
        throws IOException, SQLException {
      long took = System.nanoTime() - nanos;
      long server = serverCpuMillis() - serverMillis;
      long jvm = os.getProcessCpuTime() - jvmNanos;
      long written = walBytes(url) - wal;
      long writes = transactionId(url) - xid - 1; // less the one that read the first id
      return String.format(
          "%d ms, PostgreSQL %.1f us CPU/job, JVM %.1f us CPU/job, WAL %d bytes/job,"
              + " %.2f writing transactions per 1,000 jobs",
          took / 1_000_000,
          server * 1000.0 / JOBS,
          jvm / 1000.0 / JOBS,
          written / JOBS,
          writes * 1000.0 / JOBS);
    }
  }

  /**
   * The CPU time of every process named {@code postgres}, with that of its ended children, in ms
   * (assumes 100 clock ticks a second, Linux's usual value).
   */
  private static long serverCpuMillis() throws IOException {
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

  /**
   * A new transaction id: the ids between two of them count the transactions that wrote (a
   * read-only transaction takes none).
   */
  private static long transactionId(String url) throws SQLException {
    return number(url, "SELECT txid_current()");
  }

  private static long walBytes(String url) throws SQLException {
    return number(url, "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn");
  }

  /** The one number {@code query} answers, on a connection of its own. */
  private static long number(String url, String query) throws SQLException {
    try (Connection c = DriverManager.getConnection(url);
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(query)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
