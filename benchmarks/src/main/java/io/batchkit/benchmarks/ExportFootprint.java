package io.batchkit.benchmarks;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.spi.JobStore;
import io.batchkit.web.BatchWeb;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Collections;
import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The heap a results export takes: a finished batch of {@code jobs} jobs on the in-memory store,
 * exported through {@link BatchWeb} as JSON Lines and as a ZIP, read by an HTTP client in the same
 * JVM that counts the bytes and throws them away.
 *
 * <p>Reported per export: its size, and the highest heap in use after any collection during it,
 * less the heap in use before it (the batch stored, nothing exported): the live data the export
 * adds, which stays near one page of jobs however large the batch. Run it with a stop-the-world
 * collector and a small young generation: {@code java -Xmx2g -Xmn32m -XX:+UseSerialGC -cp
 * benchmarks/target/benchmarks.jar io.batchkit.benchmarks.ExportFootprint [jobs]}. Each job's
 * payload and result are 40 characters, so that the export is of a realistic size.
 */
public final class ExportFootprint {
  private static final Logger LOG = LoggerFactory.getLogger(ExportFootprint.class);

  private ExportFootprint() {}

  /**
   * Prints the footprint of both exports.
   *
   * @param args optionally the number of jobs (default 1,000,000)
   */
  public static void main(String[] args) throws Exception {
    int jobs = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
    String payload = "s3://bucket/videos/2026/11/clip-00001.mov";
    try (BatchService service =
            BatchService.builder()
                .store(JobStore.inMemory())
                .processor(Fixtures.NOOP, context -> "s3://bucket/out/2026/11/clip-00001.mp4")
                .discoverProcessors(false)
                .maxConcurrency(8)
                .maxItemsPerBatch(Math.max(jobs, 1))
                .build();
        BatchWeb web = BatchWeb.builder(service).port(0).start()) {
      Batch batch =
          service.submit(
              BatchRequest.builder(Fixtures.NOOP)
                  .items(Collections.nCopies(jobs, payload))
                  .maxConcurrency(8)
                  .build());
      Fixtures.requireCompleted(service.awaitCompletion(batch.id(), Fixtures.AWAIT), jobs);
      HttpClient http = HttpClient.newHttpClient();
      for (String export : new String[] {"results", "results.zip"}) {
        long before = LiveHeap.usedAfterGc();
        long started = System.nanoTime();
        long bytes;
        long peak;
        try (LiveHeap.Peak watch = LiveHeap.Peak.watch(before)) {
          bytes =
              drain(
                  http.send(
                          HttpRequest.newBuilder(
                                  web.uri().resolve("api/batches/" + batch.id() + "/" + export))
                              .build(),
                          HttpResponse.BodyHandlers.ofInputStream())
                      .body());
          peak = watch.get();
        }
        long millis = (System.nanoTime() - started) / 1_000_000;
        LOG.info(
            "RESULT {} of {} jobs: {} MB exported in {} ms; live heap at most {} MB above the"
                + " stored batch during the export",
            export,
            jobs,
            mb(bytes),
            millis,
            mb(peak - before));
      }
    }
  }

  private static long drain(InputStream in) throws IOException {
    try (in) {
      byte[] buffer = new byte[64 * 1024];
      long total = 0;
      int n;
      while ((n = in.read(buffer)) >= 0) {
        total += n;
      }
      return total;
    }
  }

  private static String mb(long bytes) {
    return String.format(Locale.ROOT, "%.1f", bytes / 1_000_000.0);
  }
}
