package io.batchkit.examples;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchValidationException;
import io.batchkit.Job;
import io.batchkit.JobQuery;
import io.batchkit.examples.plugin.WordCountProvider;
import io.batchkit.spi.JobProcessorProvider;
import java.io.PrintStream;
import java.time.Duration;
import java.util.List;
import java.util.ServiceLoader;

/**
 * A processor from a plugin: {@link WordCountProvider} is listed in {@code
 * META-INF/services/io.batchkit.spi.JobProcessorProvider}, and the service below runs {@code
 * word-count} jobs without a single {@code processor(...)} call.
 *
 * <pre>
 * java -cp batch-examples/target/batchkit-examples.jar io.batchkit.examples.Plugin
 * </pre>
 */
public final class Plugin {
  private static final List<String> LINES =
      List.of(
          "It was the best of times, it was the worst of times",
          "Call me Ishmael",
          "All happy families are alike; each unhappy family is unhappy in its own way",
          "Happy families are all alike",
          "The sky above the port was the color of television, tuned to a dead channel");

  private Plugin() {}

  public static void main(String[] args) {
    Batch done = run(System.out, LINES);
    System.exit(done.isFinished() ? 0 : 1);
  }

  /** Counts the words of each line with the discovered processor and returns the batch. */
  static Batch run(PrintStream out, List<String> lines) {
    out.println("JobProcessorProviders on the class path (META-INF/services):");
    ServiceLoader.load(JobProcessorProvider.class).stream()
        .forEach(provider -> out.println("  " + provider.type().getName()));

    Batch done;
    try (BatchService service = BatchService.builder().build()) { // discovers them at build()
      Batch batch =
          service.submit(BatchRequest.builder(WordCountProvider.JOB_TYPE).items(lines).build());
      done = service.awaitCompletion(batch.id(), Duration.ofSeconds(30));
      out.println("Batch " + done.jobType() + " finished " + done.status() + ":");
      for (Job job : service.getJobs(batch.id(), JobQuery.all()).items()) {
        out.println("  " + job.result().orElse("?") + " words: " + job.payload());
      }
    }

    try (BatchService plain = BatchService.builder().discoverProcessors(false).build()) {
      plain.submit(BatchRequest.builder(WordCountProvider.JOB_TYPE).items(lines).build());
    } catch (BatchValidationException e) {
      out.println("With discoverProcessors(false) the plugin is ignored: " + e.getMessage());
    }
    return done;
  }
}
