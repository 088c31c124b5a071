package io.batchkit.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * One life of {@link CrashLoopIT}'s node, in a JVM of its own that the test kills: builds a store
 * and a service on the database it is given and submits the crash-loop batch of {@value #JOBS}
 * recorded jobs under the idempotency key {@value #IDEMPOTENCY_KEY}, so the first life creates the
 * batch and every later life gets the same batch back (and creates nothing). Prints {@value
 * #BATCH_LINE} and the batch id on stdout, then runs the batch until it is killed, or until its
 * stdin closes, when it closes its service and ends.
 *
 * <p>Arguments: the JDBC URL, the table prefix, the node id of this life and its {@code claimAhead}
 * (the batch's limit is {@value #CONCURRENCY} plus it, so that it never caps it). The tables and
 * the execution table ({@link RestartChild#createExecutionTable}) must exist.
 */
public final class CrashLoopChild {
  static final String JOB_TYPE = "crash-loop-recorded";
  static final String IDEMPOTENCY_KEY = "crash-loop";
  static final int JOBS = 5_000;
  static final int CONCURRENCY = 8;
  static final String BATCH_LINE = "batch ";

  /**
   * Attempts per job: far more than the kills, so that a job whose runs several lives were killed
   * in the middle of is still run to its end (each run in a killed life uses up an attempt).
   */
  static final int MAX_ATTEMPTS = 100;

  /** The lease: short, so that the jobs a killed life held come back soon after the kill. */
  static final Duration LEASE = Duration.ofSeconds(2);

  /** How long each job works, between the start and the end of its recorded run. */
  static final Duration WORK = Duration.ofMillis(20);

  private CrashLoopChild() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      throw new IllegalArgumentException(
          "usage: CrashLoopChild <jdbc url> <table prefix> <node> <claimAhead>");
    }
    String prefix = args[1];
    String node = args[2];
    int claimAhead = Integer.parseInt(args[3]);
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(args[0]);
    config.setMaximumPoolSize(CONCURRENCY + 4);
    config.setPoolName("batchkit-crash-loop-" + node);
    try (HikariDataSource dataSource = new HikariDataSource(config)) {
      JdbcJobStore store = JdbcJobStore.builder(dataSource).tablePrefix(prefix).build();
      try (BatchService service =
          BatchService.builder()
              .store(store)
              .discoverProcessors(false)
              .nodeId(node)
              .maxConcurrency(CONCURRENCY)
              .claimAhead(claimAhead)
              .leaseDuration(LEASE)
              .pollInterval(Duration.ofMillis(100))
              .maxPollInterval(Duration.ofMillis(500))
              .processor(JOB_TYPE, RestartChild.recorder(dataSource, prefix, node, WORK))
              .build()) {
        List<String> payloads = new ArrayList<>(JOBS);
        for (int i = 0; i < JOBS; i++) {
          payloads.add(payload(i));
        }
        Batch batch =
            service.submit(
                BatchRequest.builder(JOB_TYPE)
                    .name("crash loop")
                    .items(payloads)
                    .maxConcurrency(CONCURRENCY + claimAhead)
                    .maxAttempts(MAX_ATTEMPTS)
                    .idempotencyKey(IDEMPOTENCY_KEY)
                    .build());
        System.out.println(BATCH_LINE + batch.id());
        System.out.flush();
        RestartChild.drain(System.in);
      }
    }
  }

  static String payload(int i) {
    return "item " + i;
  }
}
