package io.batchkit.benchmarks;

import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Which of batchkit's PostgreSQL indexes a batch reads, and how much, per job (not JMH: it reads
 * {@code pg_stat_user_indexes}): rounds of 100,000 no-op jobs on {@link Nodes}, as {@code
 * DurableEndToEndBenchmark} runs them. For each index of the store's tables it prints the scans,
 * the entries they returned (each one a visit to its row in the table; entries already marked dead
 * are passed over and not counted) and the rows fetched, per job. The server publishes a session's
 * counts up to ten seconds after it goes idle, so each read of the counts waits 11 s first: the
 * counts of a round therefore also hold what the idle nodes did in the 11 s after it (their sweeps
 * for expired leases, every few seconds). Run it alone on the database: other sessions' reads of
 * tables named like the benchmarks' would count too.
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.batchkit.benchmarks.IndexReadsProbe [rounds] [nodes]
 * }</pre>
 */
public final class IndexReadsProbe {
  private static final int JOBS = 100_000;
  private static final long PUBLISHED_MILLIS = TimeUnit.SECONDS.toMillis(11);

  private IndexReadsProbe() {}

  public static void main(String[] args) throws Exception {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 3;
    int nodes = args.length > 1 ? Integer.parseInt(args[1]) : 1;
    String url = Databases.url("postgres");
    try (Nodes cluster =
        new Nodes(url, nodes, DurableEndToEndBenchmark.WORKERS, Fixtures.NOOP_PROCESSOR, true)) {
      for (int round = 0; round < rounds; round++) {
        BatchId batch = cluster.insert(JOBS, BatchRequest.MAX_CONCURRENCY);
        Thread.sleep(PUBLISHED_MILLIS);
        Map<String, long[]> before = counts(url);
        long start = System.nanoTime();
        cluster.runToEnd(batch, JOBS);
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        Thread.sleep(PUBLISHED_MILLIS);
        Map<String, long[]> after = counts(url);
        StringBuilder line =
            new StringBuilder(
                String.format("round %d, %d nodes, %d ms; per job:", round, nodes, millis));
        after.forEach(
            (index, now) -> {
              long[] was = before.getOrDefault(index, new long[3]);
              double scans = (now[0] - was[0]) / (double) JOBS;
              double read = (now[1] - was[1]) / (double) JOBS;
              double fetched = (now[2] - was[2]) / (double) JOBS;
              if (scans > 0 || read > 0) {
                line.append(
                    String.format(
                        " %s %.3f scans, %.2f read, %.2f fetched;", index, scans, read, fetched));
              }
            });
        System.out.println(line);
        cluster.delete(batch);
      }
    }
  }

  /** Each index of the benchmarks' tables (by name, less its prefix): scans, read, fetched. */
  private static Map<String, long[]> counts(String url) throws SQLException {
    Map<String, long[]> counts = new LinkedHashMap<>();
    try (Connection c = DriverManager.getConnection(url);
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT regexp_replace(indexrelname, '^bench[0-9a-f]+_', '') AS index,"
                    + " sum(idx_scan), sum(idx_tup_read), sum(idx_tup_fetch)"
                    + " FROM pg_stat_user_indexes WHERE relname LIKE 'bench%'"
                    + " GROUP BY 1 ORDER BY 1");
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        counts.put(rs.getString(1), new long[] {rs.getLong(2), rs.getLong(3), rs.getLong(4)});
      }
    }
    return counts;
  }
}
