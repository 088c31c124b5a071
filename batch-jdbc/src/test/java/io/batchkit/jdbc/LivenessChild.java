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
 * A node of {@link NodeLivenessIT}, in a JVM of its own that the test kills or freezes: builds a
 * store and a service on the database it is given, under the node id and lease it is given, whose
 * processor prints {@value #STARTED} and the job id on stdout when a job starts, works the given
 * time, and returns its node id. With a job count above 0 it also submits a batch of that many jobs
 * whose limit is {@value #SLOTS}, and prints {@value #BATCH} and its id. Runs until it is killed,
 * or until its stdin closes, when it closes its service and ends.
 *
 * <p>Arguments: JDBC URL, table prefix, node id, lease in milliseconds, work per job in
 * milliseconds, jobs to submit.
 */
public final class LivenessChild {
  static final String JOB_TYPE = "liveness";
  static final int SLOTS = 4;
  static final String STARTED = "started ";
  static final String BATCH = "batch ";
  static final String READY = "ready";

  private LivenessChild() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 6) {
      throw new IllegalArgumentException(
          "usage: LivenessChild <jdbc url> <prefix> <node> <lease ms> <work ms> <jobs>");
    }
    String node = args[2];
    Duration lease = Duration.ofMillis(Long.parseLong(args[3]));
    long workMillis = Long.parseLong(args[4]);
    int jobs = Integer.parseInt(args[5]);
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(args[0]);
    config.setMaximumPoolSize(SLOTS + 4);
    config.setPoolName("batchkit-liveness-" + node);
    try (HikariDataSource dataSource = new HikariDataSource(config)) {
      JdbcJobStore store =
          JdbcJobStore.builder(dataSource).tablePrefix(args[1]).createSchema(true).build();
      try (BatchService service =
          BatchService.builder()
              .store(store)
              .discoverProcessors(false)
              .nodeId(node)
              .maxConcurrency(SLOTS)
              .leaseDuration(lease)
              .pollInterval(Duration.ofMillis(100))
              .processor(
                  JOB_TYPE,
                  ctx -> {
                    synchronized (System.out) {
                      System.out.println(STARTED + ctx.jobId());
                      System.out.flush();
                    }
                    Thread.sleep(workMillis); // the job's work, not a wait for the test
                    return node;
                  })
              .build()) {
        if (jobs > 0) {
          List<String> items = new ArrayList<>();
          for (int i = 0; i < jobs; i++) {
            items.add("item " + i);
          }
          Batch batch =
              service.submit(
                  BatchRequest.builder(JOB_TYPE).items(items).maxConcurrency(SLOTS).build());
          synchronized (System.out) {
            System.out.println(BATCH + batch.id());
          }
        }
        synchronized (System.out) {
          System.out.println(READY);
          System.out.flush();
        }
        RestartChild.drain(System.in);
      }
    }
  }
}
