package io.batchkit.examples;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.Job;
import io.batchkit.JobContext;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The first program to run: an in-memory service, a processor that takes a few tens of milliseconds
 * and fails on some items, and a batch of 50 items four at a time, with live progress.
 *
 * <p>Run it with {@code java -jar batch-examples/target/batchkit-examples.jar}.
 */
public final class QuickStart {
  private QuickStart() {}

  public static void main(String[] args) {
    Batch done = run(System.out, 50, ProgressLine.isTerminal());
    System.exit(done.isFinished() ? 0 : 1);
  }

  /** Runs the quick start with {@code items} items and returns the finished batch. */
  static Batch run(PrintStream out, int items, boolean terminal) {
    try (BatchService service =
        BatchService.builder()
            .processor("resize-image", QuickStart::resize)
            .retryBackoff(Duration.ofMillis(50), Duration.ofMillis(200))
            .build()) {
      List<String> images = new ArrayList<>();
      for (int i = 1; i <= items; i++) {
        images.add(i % 10 == 7 ? "corrupt-" + i + ".png" : "photo-" + i + ".png");
      }
      Batch batch =
          service.submit(
              BatchRequest.builder("resize-image")
                  .name("resize " + items + " photos")
                  .items(images)
                  .maxConcurrency(4)
                  .maxAttempts(2)
                  .build());
      out.println("Submitted batch " + batch.id() + ": " + batch.name());

      Batch now = new ProgressLine(out, terminal).follow(service, batch.id());

      out.println("Finished " + now.status() + ": " + now.progress());
      out.println("Failed jobs (each tried " + now.maxAttempts() + " times):");
      for (Job job : service.getJobs(batch.id(), JobQuery.withStatus(JobStatus.FAILED)).items()) {
        out.println("  " + job.payload() + " -> " + job.error().orElse("?"));
      }
      List<Job> first =
          service.getJobs(batch.id(), JobQuery.withStatus(JobStatus.SUCCEEDED).page(0, 3)).items();
      out.println("First results:");
      for (Job job : first) {
        out.println("  " + job.payload() + " -> " + job.result().orElse(""));
      }
      return now;
    }
  }

  /** Pretends to resize an image: 20 to 60 ms of work, and corrupt files fail every time. */
  private static String resize(JobContext ctx) throws Exception {
    Thread.sleep(ThreadLocalRandom.current().nextInt(20, 60));
    if (ctx.payload().startsWith("corrupt")) {
      throw new IllegalArgumentException("not a PNG file: " + ctx.payload());
    }
    return ctx.payload().replace(".png", "-small.png");
  }
}
