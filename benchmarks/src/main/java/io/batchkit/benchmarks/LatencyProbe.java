package io.batchkit.benchmarks;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.jdbc.JdbcJobStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Two latencies between two nodes sharing PostgreSQL, every setting at its default (not JMH: each
 * sample is one event, and the figures are percentiles):
 *
 * <ul>
 *   <li><b>start</b>: a one-job batch submitted on node B, which has no processor for it, until its
 *       job starts on node A, after both nodes sat idle for a while (so that their polling has
 *       backed off);
 *   <li><b>completion seen elsewhere</b>: from the moment A's processor returns until {@code
 *       awaitCompletion} on B returns the finished batch.
 * </ul>
 *
 * <pre>{@code
 * java -cp benchmarks/target/benchmarks.jar io.batchkit.benchmarks.LatencyProbe [samples]
 * }</pre>
 */
public final class LatencyProbe {
  private LatencyProbe() {}

  public static void main(String[] args) throws InterruptedException {
    int samples = args.length > 0 ? Integer.parseInt(args[0]) : 40;
    String url = Databases.url("postgres");
    String prefix = Databases.uniquePrefix();
    BlockingQueue<long[]> runs = new ArrayBlockingQueue<>(1);
    List<Long> starts = new ArrayList<>();
    List<Long> completions = new ArrayList<>();
    try (HikariDataSource poolA = Databases.pool(url, 10, "node-a");
        HikariDataSource poolB = Databases.pool(url, 10, "node-b")) {
      JdbcJobStore storeA =
          JdbcJobStore.builder(poolA).tablePrefix(prefix).createSchema(true).build();
      JdbcJobStore storeB = JdbcJobStore.builder(poolB).tablePrefix(prefix).build();
      try (BatchService a =
              BatchService.builder()
                  .store(storeA)
                  .nodeId("a")
                  .discoverProcessors(false)
                  .processor(
                      Fixtures.NOOP,
                      ctx -> {
                        long started = System.nanoTime();
                        runs.put(new long[] {started, System.nanoTime()});
                        return null;
                      })
                  .build();
          BatchService b =
              BatchService.builder()
                  .store(storeB)
                  .nodeId("b")
                  .discoverProcessors(false)
                  .allowUnknownJobTypes(true)
                  .build()) {
        for (int i = 0; i < samples; i++) {
          // idle long enough for both nodes to back off their polling
          LockSupport.parkNanos(
              TimeUnit.MILLISECONDS.toNanos(300 + ThreadLocalRandom.current().nextInt(1_200)));
          long submitted = System.nanoTime();
          Batch batch = b.submit(BatchRequest.builder(Fixtures.NOOP).item("").build());
          long[] run = runs.poll(30, TimeUnit.SECONDS);
          if (run == null) {
            throw new IllegalStateException("the job of batch " + batch.id() + " never started");
          }
          Batch done = b.awaitCompletion(batch.id(), Duration.ofSeconds(30));
          long seen = System.nanoTime();
          if (done.status() != BatchStatus.COMPLETED) {
            throw new IllegalStateException("batch did not complete: " + done);
          }
          starts.add(run[0] - submitted);
          completions.add(seen - run[1]);
          b.deleteBatch(batch.id());
        }
      } finally {
        Databases.drop(poolA, url, Databases.storeTables(prefix, url));
      }
    }
    report("start (submit on B -> job starts on A)", starts);
    report(
        "completion seen elsewhere (job returns on A -> awaitCompletion returns on B)",
        completions);
  }

  private static void report(String what, List<Long> nanos) {
    List<Long> sorted = new ArrayList<>(nanos);
    Collections.sort(sorted);
    List<String> slow = new ArrayList<>();
    for (int i = 0; i < nanos.size(); i++) {
      if (nanos.get(i) > TimeUnit.MILLISECONDS.toNanos(50)) {
        slow.add(String.format(Locale.ROOT, "#%d %.1f ms", i + 1, nanos.get(i) / 1e6));
      }
    }
    System.out.printf(
        Locale.ROOT,
        "%s, %d samples: median %.1f ms, p90 %.1f ms, max %.1f ms; over 50 ms: %s%n",
        what,
        sorted.size(),
        millis(sorted, 0.5),
        millis(sorted, 0.9),
        sorted.get(sorted.size() - 1) / 1e6,
        slow.isEmpty() ? "none" : String.join(", ", slow));
  }

  private static double millis(List<Long> sorted, double quantile) {
    int index = (int) Math.ceil(quantile * sorted.size()) - 1;
    return sorted.get(Math.max(0, index)) / 1e6;
  }
}
