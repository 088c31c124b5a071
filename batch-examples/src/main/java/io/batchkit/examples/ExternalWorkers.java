package io.batchkit.examples;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.Job;
import io.batchkit.JobQuery;
import io.batchkit.web.BatchWeb;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Workers outside the service: a Java service creates a batch of a job type it has no processor
 * for, and serves its jobs over HTTP to workers in any language; {@code python/worker.py} (Python
 * standard library only) pulls them, runs them and reports each result back. The batch keeps its
 * limit, retries and exact progress as if the service ran the jobs itself.
 *
 * <p>Run it with {@code java -cp batch-examples/target/batchkit-examples.jar
 * io.batchkit.examples.ExternalWorkers [port]}, then, in a second terminal, the command it prints.
 * It waits until the batch is finished and prints a few results.
 */
public final class ExternalWorkers implements AutoCloseable {
  /** The job type the Python worker serves. */
  static final String JOB_TYPE = "summarize";

  private final BatchService service;
  private final BatchWeb web;
  private final Batch batch;

  private ExternalWorkers(BatchService service, BatchWeb web, Batch batch) {
    this.service = service;
    this.web = web;
    this.batch = batch;
  }

  public static void main(String[] args) {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : BatchWeb.DEFAULT_PORT;
    try (ExternalWorkers example = start(System.out, port, 40, Duration.ofMillis(500))) {
      Batch done = example.service.awaitCompletion(example.batch.id(), Duration.ofHours(1));
      example.report(System.out, done);
    }
  }

  /**
   * Starts the service and its HTTP API on {@code port} (0 for a free one) with a batch of {@code
   * items} texts to summarise, and prints how to start a worker. The service looks for leases that
   * ran out every {@code sweep}: a worker that stops extending loses its job within a lease and a
   * sweep.
   */
  static ExternalWorkers start(PrintStream out, int port, int items, Duration sweep) {
    BatchService service =
        BatchService.builder()
            .allowUnknownJobTypes(true) // no processor here: workers elsewhere run these jobs
            .pollInterval(sweep)
            .maxPollInterval(sweep)
            .build();
    BatchWeb web;
    try {
      web = BatchWeb.builder(service).port(port).start();
    } catch (RuntimeException e) {
      service.close();
      throw e;
    }
    List<String> texts = new ArrayList<>();
    for (int i = 1; i <= items; i++) {
      texts.add("article " + i + " says that batches of work run best close to their data");
    }
    Batch batch =
        service.submit(
            BatchRequest.builder(JOB_TYPE)
                .name("summarise " + items + " articles")
                .items(texts)
                .maxConcurrency(4) // at most 4 jobs at once, however many workers poll
                .maxAttempts(3)
                .build());
    out.println("Batch " + batch.id() + " waits for workers: " + items + " jobs of " + JOB_TYPE);
    out.println("Start one or more workers in another terminal:");
    out.println(
        "  python3 batch-examples/python/worker.py --url " + web.uri() + " --job-type " + JOB_TYPE);
    return new ExternalWorkers(service, web, batch);
  }

  /** Prints the batch's end and its first results. */
  void report(PrintStream out, Batch done) {
    out.println("Finished " + done.status() + ": " + done.progress());
    for (Job job : service.getJobs(done.id(), JobQuery.all().page(0, 3)).items()) {
      out.println("  " + job.payload() + " -> " + job.result().orElse("(none)"));
    }
  }

  Batch batch() {
    return batch;
  }

  BatchService service() {
    return service;
  }

  BatchWeb web() {
    return web;
  }

  @Override
  public void close() {
    web.close();
    service.close();
  }
}
