package io.batchkit.benchmarks;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.spi.JobStore;
import java.util.List;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The peak heap of one batch of {@code jobs} no-op jobs run through {@link BatchService} on the
 * in-memory store, from building the request to its completion (the batch and its jobs still
 * stored).
 *
 * <p>What is reported is the highest heap in use right after any collection during the run, less
 * the heap in use before it: the live data at its peak, give or take the garbage a young collection
 * leaves in the old generation. Run it with a stop-the-world collector and a small young
 * generation, so that collections are frequent and their readings close to the live data: {@code
 * java -Xmx4g -Xmn64m -XX:+UseSerialGC -cp benchmarks/target/benchmarks.jar
 * io.batchkit.benchmarks.PeakHeap [jobs]}. The payloads are one shared empty string, so they are
 * not counted; neither is the caller's list of items. The service's settings are the defaults but
 * for 8 slots and {@code maxItemsPerBatch}, raised to let the batch in.
 */
public final class PeakHeap {
  private static final Logger LOG = LoggerFactory.getLogger(PeakHeap.class);

  private PeakHeap() {}

  /**
   * Prints the peak heap of one batch.
   *
   * @param args optionally the number of jobs (default 1,000,000)
   */
  public static void main(String[] args) throws InterruptedException {
    int jobs = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    List<String> items = Fixtures.payloads(jobs);
    try (BatchService service =
        BatchService.builder()
            .store(JobStore.inMemory())
            .processor(Fixtures.NOOP, Fixtures.NOOP_PROCESSOR)
            .discoverProcessors(false)
            .maxConcurrency(8)
            .maxItemsPerBatch(Math.max(jobs, 1))
            .build()) {
      long before = LiveHeap.usedAfterGc();
      long peak;
      long retained;
      long started = System.nanoTime();
      long submitted;
      long finished;
      try (LiveHeap.Peak watch = LiveHeap.Peak.watch(before)) {
        Batch batch =
            service.submit(
                BatchRequest.builder(Fixtures.NOOP).items(items).maxConcurrency(8).build());
        submitted = System.nanoTime();
        Fixtures.requireCompleted(service.awaitCompletion(batch.id(), Fixtures.AWAIT), jobs);
        finished = System.nanoTime();
        retained = LiveHeap.usedAfterGc();
        peak = watch.get();
      }
      LOG.info(
          "RESULT {} jobs: peak {} MB above the start, {} MB retained after completion;"
              + " submit {} ms, run {} ms",
          jobs,
          mb(peak - before),
          mb(retained - before),
          (submitted - started) / 1_000_000,
          (finished - submitted) / 1_000_000);
    }
  }

  private static String mb(long bytes) {
    return String.format(Locale.ROOT, "%.1f", bytes / 1_000_000.0);
  }
}
