package io.batchkit.benchmarks;

import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import java.io.IOException;
import java.lang.management.ManagementFactory;
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
 * <p>With several scales of plain SQL ({@code 1,3}: the third argument, 1 if it is left out), plain
 * SQL runs with that many times its 8 workers and its pool of 10 (scale 3: 24 workers over a pool
 * of 30, the workers and connections of 3 nodes), also in turns after the clusters: how the
 * hand-written baseline itself fares with more clients on the same server. Every pool opens all its
 * connections: a cluster of n nodes holds n times 10, a plain SQL run of scale s holds s times 10,
 * so that {@code 1,3} with scales {@code 1,3} holds 80; keep the sum under the server's {@code
 * max_connections} (100 by default).
 *
 * <p>It ends with the medians over the rounds after the first third (the warm-up; with fewer than 3
 * rounds, over all of them): each run's time, the first plain SQL run's time over the first
 * cluster's, the first cluster's over each other's, and the first plain SQL run's over each other
 * plain SQL run's (throughput ratios, as issue 10's goals are read). Rounds are numbered from 0.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.batchkit.benchmarks.DurableCostProbe [rounds] [nodes[,nodes...]] [scales]
 * }</pre>
 *
 * <p>Bad arguments end it before anything is opened: a round count, node count or scale below 1
 * with an {@link IllegalArgumentException}, one that is not a number with a {@link
 * NumberFormatException}.
 */
public final class DurableCostProbe {
  private static final int JOBS = 100_000;

  private DurableCostProbe() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 5;
    if (rounds < 1) {
      throw new IllegalArgumentException("rounds must be at least 1, was " + rounds);
    }
    int[] counts = numbers(args.length > 1 ? args[1] : "1");
    int[] scales = numbers(args.length > 2 ? args[2] : "1");
    String url = Databases.url("postgres");
    com.sun.management.OperatingSystemMXBean os =
        (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
    List<AutoCloseable> opened = new ArrayList<>();
    // per round: each cluster's time, then each plain SQL run's, in ms
    List<long[]> times = new ArrayList<>();
    Throwable failure = null;
    try {
      List<Nodes> clusters = new ArrayList<>();
      for (int count : counts) {
        Nodes cluster =
            new Nodes(url, count, DurableEndToEndBenchmark.WORKERS, Fixtures.NOOP_PROCESSOR, true);
        opened.add(cluster);
        clusters.add(cluster);
      }
      List<PlainSqlQueue> plains = new ArrayList<>();
      for (int scale : scales) {
        PlainSqlQueue plain =
            new PlainSqlQueue(
                url,
                scale * DurableEndToEndBenchmark.WORKERS,
                0,
                scale * DurableEndToEndBenchmark.POOL_SIZE);
        opened.add(plain);
        plains.add(plain);
      }
      for (int round = 0; round < rounds; round++) {
        long[] took = new long[counts.length + scales.length];
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
        for (int turn = 0; turn < scales.length; turn++) {
          int i = round % 2 == 0 ? turn : scales.length - 1 - turn;
          PlainSqlQueue plain = plains.get(i);
          plain.insert(JOBS);
          Cost run = Cost.start(url, os);
          plain.runAll();
          int column = counts.length + i;
          took[column] = run.millis();
          line.append(" ").append(plainName(scales[i])).append(" ");
          line.append(run.end(took[column], url, os)).append(';');
          plain.clear();
        }
        line.setLength(line.length() - 1);
        times.add(took);
        System.out.println(line);
      }
    } catch (Throwable e) {
      failure = e;
      throw e;
    } finally {
      Fixtures.closeAll(opened, failure);
    }
    summarize(counts, scales, times.subList(rounds / 3, rounds));
  }

  /** The numbers of a comma-separated list such as {@code 1,3}, each at least 1. */
  private static int[] numbers(String list) {
    int[] numbers = Arrays.stream(list.split(",")).mapToInt(Integer::parseInt).toArray();
    for (int n : numbers) {
      if (n < 1) {
        throw new IllegalArgumentException("node counts and scales must be at least 1: " + list);
      }
    }
    return numbers;
  }

  /** How a plain SQL run is named: "plain SQL" at scale 1, else with its worker count. */
  private static String plainName(int scale) {
    return scale == 1
        ? "plain SQL"
        : String.format(
            "plain SQL x%d (%d workers)", scale, scale * DurableEndToEndBenchmark.WORKERS);
  }

  /**
   * Prints the medians of {@code times} (rounds of each cluster's time, then each plain SQL run's):
   * the times, the first cluster's throughput over the first plain SQL run's, each other cluster's
   * over the first cluster's, and each other plain SQL run's over the first plain SQL run's.
   */
  private static void summarize(int[] counts, int[] scales, List<long[]> times) {
    if (times.isEmpty()) {
      return;
    }
    int plain = counts.length;
    StringBuilder line = new StringBuilder("medians of " + times.size() + " rounds:");
    for (int i = 0; i < counts.length + scales.length; i++) {
      int column = i;
      String name = i < plain ? counts[i] + " node(s)" : plainName(scales[i - plain]);
      line.append(String.format(" %s %.0f ms;", name, median(times, t -> (double) t[column])));
    }
    line.append(
        String.format(
            " batchkit on %d node(s) / %s %.2f",
            counts[0], plainName(scales[0]), median(times, t -> (double) t[plain] / t[0])));
    for (int i = 1; i < counts.length; i++) {
      int column = i;
      line.append(
          String.format(
              "; %d node(s) / %d node(s) %.2f",
              counts[i], counts[0], median(times, t -> (double) t[0] / t[column])));
    }
    for (int i = 1; i < scales.length; i++) {
      int column = plain + i;
      line.append(
          String.format(
              "; %s / %s %.2f",
              plainName(scales[i]),
              plainName(scales[0]),
              median(times, t -> (double) t[plain] / t[column])));
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
      long server = Databases.postgresCpuMillis();
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
      long server = Databases.postgresCpuMillis() - serverMillis;
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
