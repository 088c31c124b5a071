package io.batchkit.examples;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchListener;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.Job;
import io.batchkit.JobContext;
import io.batchkit.JobQuery;
import io.batchkit.Node;
import io.batchkit.Page;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.spi.JobStore;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import javax.sql.DataSource;

/**
 * Two services ("nodes") sharing one database split a batch between them: each claims jobs in turn,
 * the batch's concurrency limit holds over both, and the batch finishes once, announced by the node
 * whose step finished it.
 *
 * <pre>
 * java -cp batch-examples/target/batchkit-examples.jar io.batchkit.examples.SeveralNodes [jdbc-url]
 * </pre>
 *
 * Without an argument the nodes share an H2 in-memory database; with a URL such as {@code
 * jdbc:postgresql://localhost:5432/test?user=me&password=secret} they share that database (tables
 * {@code batchkit_demo_*}, created if missing). Two JVMs would do the same; one JVM keeps the demo
 * to one command.
 */
public final class SeveralNodes {
  private static final String TABLE_PREFIX = "batchkit_demo_";

  private SeveralNodes() {}

  public static void main(String[] args) {
    Outcome outcome =
        run(System.out, args.length > 0 ? args[0] : null, 40, ProgressLine.isTerminal());
    System.exit(outcome.batch().isFinished() ? 0 : 1);
  }

  /**
   * What the run saw.
   *
   * @param batch the finished batch
   * @param jobsPerNode how many of its jobs each node ran, by {@link Job#nodeId()}
   * @param finishedBy the nodes that raised {@link BatchListener#batchFinished}, once each time
   */
  record Outcome(Batch batch, Map<String, Long> jobsPerNode, List<String> finishedBy) {}

  /** Runs a batch of {@code items} on two nodes; {@code jdbcUrl} null means H2 in memory. */
  static Outcome run(PrintStream out, String jdbcUrl, int items, boolean terminal) {
    String url = jdbcUrl != null ? jdbcUrl : "jdbc:h2:mem:batchkit-several-nodes";
    out.println("Database: " + url.replaceAll("password=[^&;]*", "password=***"));
    List<String> finishedBy = new CopyOnWriteArrayList<>();
    try (HikariDataSource db = pool(url)) {
      Batch done;
      Map<String, Long> jobsPerNode;
      try (BatchService a = node("node-a", db, finishedBy);
          BatchService b = node("node-b", db, finishedBy)) {
        out.println("Two nodes, node-a and node-b, each running up to 3 jobs at a time");
        Batch batch =
            a.submit(
                BatchRequest.builder("render-page")
                    .name("render " + items + " pages")
                    .items(pages(items))
                    .maxConcurrency(6) // over all nodes: one node alone could not reach it
                    .build());
        out.println("Submitted batch " + batch.id() + " on node-a; following it from node-b");
        out.println("Registered nodes (BatchService.nodes()):");
        for (Node node : b.nodes()) {
          out.printf(
              "  %-8s %s, %d slots, on %s%n",
              node.nodeId(), node.status(), node.slots(), node.host());
        }
        done = new ProgressLine(out, terminal).follow(b, batch.id());
        jobsPerNode = jobsPerNode(b, batch.id());
      } // closing both nodes waits for their listeners, so finishedBy is complete below

      out.println("Finished " + done.status() + ": " + done.progress());
      out.println("Jobs per node (Job.nodeId()):");
      jobsPerNode.forEach(
          (node, jobs) -> out.printf("  %-8s %3d %s%n", node, jobs, "#".repeat(jobs.intValue())));
      out.println(
          "batchFinished was raised "
              + (finishedBy.size() == 1 ? "once" : finishedBy.size() + " times")
              + ", by "
              + String.join(" and ", finishedBy)
              + ": the node whose step finished the batch announces it.");
      return new Outcome(done, jobsPerNode, List.copyOf(finishedBy));
    }
  }

  /** One node: its own store and service on the shared database, as on another machine. */
  private static BatchService node(String name, DataSource db, List<String> finishedBy) {
    JobStore store = JdbcJobStore.builder(db).tablePrefix(TABLE_PREFIX).createSchema(true).build();
    return BatchService.builder()
        .nodeId(name)
        .store(store)
        .processor("render-page", SeveralNodes::render)
        .maxConcurrency(3)
        .pollInterval(Duration.ofMillis(50)) // H2 cannot notify other nodes: look often
        .maxPollInterval(Duration.ofMillis(250))
        .listener(
            new BatchListener() {
              @Override
              public void batchFinished(Batch batch) {
                finishedBy.add(name);
              }
            })
        .build();
  }

  private static Map<String, Long> jobsPerNode(BatchService service, BatchId id) {
    Map<String, Long> perNode = new TreeMap<>();
    Page<Job> page;
    int offset = 0;
    do {
      page = service.getJobs(id, JobQuery.all().page(offset, 1_000));
      for (Job job : page.items()) {
        perNode.merge(job.nodeId().orElse("(none)"), 1L, Long::sum);
      }
      offset = page.nextOffset();
    } while (page.hasMore());
    return perNode;
  }

  private static HikariDataSource pool(String url) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setMaximumPoolSize(8);
    config.setPoolName("several-nodes");
    return new HikariDataSource(config);
  }

  private static List<String> pages(int n) {
    List<String> pages = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      pages.add("page-" + i);
    }
    return pages;
  }

  /** Pretends to render a page: 30 to 80 ms. */
  private static String render(JobContext ctx) throws InterruptedException {
    Thread.sleep(ThreadLocalRandom.current().nextInt(30, 80));
    return ctx.payload() + ".html";
  }
}
