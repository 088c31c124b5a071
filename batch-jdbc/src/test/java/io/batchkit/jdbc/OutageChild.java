package io.batchkit.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.JobId;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link OutageIT}'s node, in a JVM of its own so that the test reads everything it logs (its
 * stderr) and nothing else: builds a store and a service on the JDBC URL it is given (which names
 * the sessions with {@code ApplicationName}, so that the test can find and cut them), submits
 * {@value #JOBS} jobs, prints {@value #BATCH_LINE} and the batch id, and runs until its stdin
 * closes. Then it closes its service and prints {@value #RUNS_LINE} with the number of processor
 * runs and {@value #REPEATED_LINE} with the number of jobs that ran more than once.
 *
 * <p>Arguments: the JDBC URL, the table prefix and the node id. The tables must exist.
 */
public final class OutageChild {
  static final String JOB_TYPE = "outage";
  static final int JOBS = 2_000;
  static final int CONCURRENCY = 4;
  static final String BATCH_LINE = "batch ";
  static final String RUNS_LINE = "runs ";
  static final String REPEATED_LINE = "repeated ";

  /** How long each job works: enough for the batch to outlast the outages. */
  static final Duration WORK = Duration.ofMillis(10);

  private OutageChild() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      throw new IllegalArgumentException("usage: OutageChild <jdbc url> <table prefix> <node>");
    }
    Map<JobId, AtomicInteger> runs = new ConcurrentHashMap<>();
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(args[0]);
    config.setMaximumPoolSize(CONCURRENCY + 4);
    config.setPoolName("batchkit-outage");
    try (HikariDataSource dataSource = new HikariDataSource(config)) {
      JdbcJobStore store = JdbcJobStore.builder(dataSource).tablePrefix(args[1]).build();
      try (BatchService service =
          BatchService.builder()
              .store(store)
              .discoverProcessors(false)
              .nodeId(args[2])
              .maxConcurrency(CONCURRENCY)
              .pollInterval(Duration.ofMillis(50))
              .maxPollInterval(Duration.ofSeconds(1))
              .processor(
                  JOB_TYPE,
                  ctx -> {
                    runs.computeIfAbsent(ctx.jobId(), k -> new AtomicInteger()).incrementAndGet();
                    Thread.sleep(WORK.toMillis()); // the job's work
                    return result(ctx.payload());
                  })
              .build()) {
        List<String> payloads = new ArrayList<>(JOBS);
        for (int i = 0; i < JOBS; i++) {
          payloads.add(payload(i));
        }
        Batch batch =
            service.submit(
                BatchRequest.builder(JOB_TYPE)
                    .name("outage")
                    .items(payloads)
                    .maxConcurrency(CONCURRENCY)
                    .build());
        System.out.println(BATCH_LINE + batch.id());
        System.out.flush();
        RestartChild.drain(System.in);
      }
    }
    System.out.println(RUNS_LINE + runs.values().stream().mapToInt(AtomicInteger::get).sum());
    System.out.println(REPEATED_LINE + runs.values().stream().filter(n -> n.get() > 1).count());
    System.out.flush();
  }

  static String payload(int i) {
    return "item " + i;
  }

  static String result(String payload) {
    return "done " + payload;
  }
}
