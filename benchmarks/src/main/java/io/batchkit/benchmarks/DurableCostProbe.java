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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * What a batch costs PostgreSQL besides its time (not JMH: it reads CPU times and the write-ahead
 * log, which JMH does not report), and how node counts compare round by round: rounds of 100,000
 * no-op jobs on one or more clusters of {@link Nodes} (as {@code DurableEndToEndBenchmark} runs
 * them; each cluster on tables of its own), each round followed by the same rows through {@link
 * PlainSqlQueue}, in one JVM. Per run alone (the rows are stored before it, untimed) it prints the
 * time, PostgreSQL's CPU per job (its server processes' times from {@code /proc}: run it on the
 * database's machine, Linux only), this JVM's CPU per job, the WAL written per job and the
 * transactions that wrote (took a transaction id) per 1,000 jobs.
 *
 * <p>With several node counts ({@code 1,3}), the clusters take turns within each round, in an order
 * that alternates from round to round. While one runs, the others sit idle (they still poll, renew
 * and sweep, and the server's CPU, WAL and transaction ids are counted over the whole database, so
 * their idle work is in every run's figures). Turns seconds apart see the same machine, so the
 * median of the rounds' ratios moves less than the ratio of JMH runs whose two node counts are a
 * minute apart on a shared host; a single round's ratio moves as much.
 *
 * <p>It ends with the medians over the rounds after the first third (the warm-up; with fewer than 3
 * rounds, over all of them): each run's time, plain SQL's time over the first cluster's, and the
 * first cluster's over each other's (throughput ratios, as issue 10's goals are read). Rounds are
 * numbered from 0.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.batchkit.benchmarks.DurableCostProbe [rounds] [nodes[,nodes...]]
 * }</pre>
 */
public final class DurableCostProbe {
  private static final int JOBS = 100_000;

  private DurableCostProbe() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    int[] counts =
        Arrays.stream((args.length > 1 ? args[1] : "1").split(","))
            .mapToInt(Integer::parseInt)
            .toArray();
    String url = Databases.url("postgres");
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    List<Nodes> clusters = new ArrayList<>();
    // per round: each cluster's time, then plain SQL's, in ms
    List<long[]> times = new ArrayList<>();
    try {
      for (int count : counts) {
        clusters.add(
            new Nodes(url, count, DurableEndToEndBenchmark.WORKERS, Fixtures.NOOP_PROCESSOR, true));
      }
      PlainSqlQueue plain = new PlainSqlQueue(url, DurableEndToEndBenchmark.WORKERS, 0);
      try {
        for (int round = 0; round < rounds; round++) {
          long[] took = new long[counts.length + 1];
          StringBuilder line = new StringBuilder("round " + round + ":");
          for (int turn = 0; turn < counts.length; turn++) {
            int i = round % 2 == 0 ? turn : counts.length - 1 - turn;
            Nodes cluster = clusters.get(i);
            BatchId batch = cluster.insert(JOBS, BatchRequest.MAX_CONCURRENCY);
            Cost run = Cost.start(url, os);
            cluster.runToEnd(batch, JOBS);
            took[i] = run.millis();
            line.append(
                String.format(" batchkit on %d node(s) %s;", counts[i], run.end(took[i], url, os)));
            cluster.delete(batch);
          }
          plain.insert(JOBS);
          Cost baseline = Cost.start(url, os);
          plain.runAll();
          took[counts.length] = baseline.millis();
          line.append(" plain SQL ").append(baseline.end(took[counts.length], url, os));
          plain.clear();
          times.add(took);
          System.out.println(line);
        }
      } finally {
        plain.close();
      }
    } finally {
      closeAll(clusters);
    }
    summarize(counts, times.subList(rounds / 3, rounds));
  }

  /** Closes every cluster, each even if closing one before it failed. */
  private static void closeAll(List<Nodes> clusters) {
    RuntimeException failed = null;
    for (Nodes cluster : clusters) {
      try {
        cluster.close();
      } catch (RuntimeException e) {
        if (failed == null) {
          failed = e;
        } else {
          failed.addSuppressed(e);
        }
      }
    }
    if (failed != null) {
      throw failed;
    }
  }

  /** Prints the medians of {@code times} (rounds of each cluster's time, then plain SQL's). */
  private static void summarize(int[] counts, List<long[]> times) {
    if (times.isEmpty()) {
      return;
    }
    StringBuilder line = new StringBuilder("medians of " + times.size() + " rounds:");
    for (int i = 0; i <= counts.length; i++) {
      int column = i;
      String name = i < counts.length ? counts[i] + " node(s)" : "plain SQL";
      line.append(String.format(" %s %.0f ms;", name, median(times, t -> (double) t[column])));
    }
    line.append(
        String.format(
            " batchkit on %d node(s) / plain SQL %.2f",
            counts[0], median(times, t -> (double) t[counts.length] / t[0])));
    for (int i = 1; i < counts.length; i++) {
      int column = i;
      line.append(
          String.format(
              "; %d node(s) / %d node(s) %.2f",
              counts[i], counts[0], median(times, t -> (double) t[0] / t[column])));
    }
    System.out.println(line);
  }

  private static double median(List<long[]> rows, ToDoubleFunction<long[]> value) {
    return Fixtures.median(rows.stream().map(value::applyAsDouble).toList());
  }

  /** The counters at a run's start. */
  private record Cost(long nanos, long serverMillis, long jvmNanos, long wal, long xid) {
    static Cost start(String url, com.sun.management.OperatingSystemMXBean os)
        throws IOException, SQLException {
      long server = serverCpuMillis();
      long jvm = os.getProcessCpuTime();
      long wal = walBytes(url);
      long xid = transactionId(url);
      // the clock last, so that reading the counters is not timed
      return new Cost(System.nanoTime(), server, jvm, wal, xid);
    }

    long millis() {
      return (System.nanoTime() - nanos) / 1_000_000;
    }

    /** The costs since the start, for a run that took {@code millis} ({@link #millis}). */
    String end(long millis, String url, com.sun.management.OperatingSystemMXBean os)
        throws IOException, SQLException {
      long server = serverCpuMillis() - serverMillis;
      long jvm = os.getProcessCpuTime() - jvmNanos;
      long written = walBytes(url) - wal;
      long writes = transactionId(url) - xid - 1; // less the one that read the first id
      return String.format(
          "%d ms, PostgreSQL %.1f us CPU/job, JVM %.1f us CPU/job, WAL %d bytes/job,"
              + " %.2f writing transactions per 1,000 jobs",
          millis,
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
