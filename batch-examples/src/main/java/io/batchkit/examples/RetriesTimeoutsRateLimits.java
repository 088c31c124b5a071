package io.batchkit.examples;

import io.batchkit.Batch;
import io.batchkit.BatchListener;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.CancellationSummary;
import io.batchkit.Job;
import io.batchkit.JobContext;
import io.batchkit.JobId;
import io.batchkit.JobQuery;
import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One service, four behaviours, each told by a {@link BatchListener} as it happens: a job retried
 * with exponential backoff, a job that runs over its timeout, a rate-limited job type, and a batch
 * cancelled halfway.
 *
 * <pre>
 * java -cp batch-examples/target/batchkit-examples.jar io.batchkit.examples.RetriesTimeoutsRateLimits
 * </pre>
 */
public final class RetriesTimeoutsRateLimits {
  private static final Duration WAIT = Duration.ofSeconds(60);

  private RetriesTimeoutsRateLimits() {}

  public static void main(String[] args) {
    run(System.out, 10);
    System.exit(0);
  }

  /**
   * What the program saw.
   *
   * @param retried the upload batch, whose flaky job succeeds on its third attempt
   * @param flaky that job
   * @param timedOut the report batch, one of whose jobs runs over its timeout
   * @param slow that job
   * @param rateLimited the geocode batch
   * @param starts when each geocode job started, from the first one
   * @param summary what cancelling the export batch did
   * @param cancelled the export batch once its running jobs stopped
   */
  record Outcome(
      Batch retried,
      Job flaky,
      Batch timedOut,
      Job slow,
      Batch rateLimited,
      List<Duration> starts,
      CancellationSummary summary,
      Batch cancelled) {}

  /** Runs the four parts; {@code items} sizes the upload, geocode and export batches. */
  static Outcome run(PrintStream out, int items) {
    Narrator narrator = new Narrator(out);
    try (BatchService service =
        BatchService.builder()
            .processor("upload", RetriesTimeoutsRateLimits::upload)
            .processor("report", RetriesTimeoutsRateLimits::report)
            .processor("geocode", ctx -> work(20, "ok"))
            .processor("export", ctx -> work(ThreadLocalRandom.current().nextInt(50, 150), "ok"))
            .retryBackoff(Duration.ofMillis(200), Duration.ofSeconds(2)) // 200 ms, 400 ms, ...
            .rateLimit("geocode", 5, Duration.ofSeconds(1))
            .listener(narrator)
            .build()) {

      out.println(
          "1. Retries: upload-2 fails twice, then succeeds (3 attempts, backoff 200 ms x2)");
      Batch retried =
          await(
              service,
              BatchRequest.builder("upload").items(names("upload", items)).maxAttempts(3).build());
      Job flaky = find(service, retried, "upload-2");
      out.println(
          "   batch "
              + retried.status()
              + ", upload-2 succeeded on attempt "
              + flaky.attempt()
              + ": "
              + retried.progress());

      out.println("2. Timeout: yearly-report needs far more than its jobTimeout of 300 ms");
      Batch timedOut =
          await(
              service,
              BatchRequest.builder("report")
                  .items(List.of("daily-report", "yearly-report"))
                  .jobTimeout(Duration.ofMillis(300))
                  .maxAttempts(1)
                  .build());
      Job slow = find(service, timedOut, "yearly-report");
      out.println(
          "   batch "
              + timedOut.status()
              + ", yearly-report "
              + slow.status()
              + ": "
              + slow.error().orElse("?"));

      out.println("3. Rate limit: at most 5 geocode jobs start per second, though 10 may run");
      Batch rateLimited =
          await(
              service,
              BatchRequest.builder("geocode")
                  .items(names("geocode", items))
                  .maxConcurrency(10)
                  .build());
      List<Duration> starts = narrator.geocodeStarts();
      out.println("   batch " + rateLimited.status() + ", starts at (s): " + seconds(starts));

      int exports = 4 * items;
      out.println(
          "4. Cancellation: "
              + exports
              + " exports two at a time; cancel once "
              + items
              + " are done");
      Batch export =
          service.submit(
              BatchRequest.builder("export")
                  .items(names("export", exports))
                  .maxConcurrency(2)
                  .build());
      while (export.progress().finished() < items && !export.isFinished()) {
        export = service.awaitCompletion(export.id(), Duration.ofMillis(20)); // a fresh snapshot
      }
      CancellationSummary summary = service.cancelBatch(export.id());
      out.println(
          "   cancelBatch: "
              + summary.cancelledQueued()
              + " queued jobs cancelled, "
              + summary.stoppingRunning()
              + " running or fetched ahead told to stop, "
              + summary.alreadyFinished()
              + " already finished");
      Batch cancelled = service.awaitCompletion(export.id(), WAIT);
      out.println("   batch " + cancelled.status() + ": " + cancelled.progress());
      return new Outcome(retried, flaky, timedOut, slow, rateLimited, starts, summary, cancelled);
    }
  }

  /** Fails the first two attempts of upload-2, as a flaky network would. */
  private static String upload(JobContext ctx) throws Exception {
    if (ctx.payload().equals("upload-2") && ctx.attempt() < 3) {
      throw new IOException("connection reset");
    }
    return work(30, "stored " + ctx.payload());
  }

  /** The yearly report takes 30 s, far over its timeout; the timeout interrupts the sleep. */
  private static String report(JobContext ctx) throws InterruptedException {
    return work(ctx.payload().startsWith("yearly") ? 30_000 : 50, ctx.payload() + ".pdf");
  }

  private static String work(long millis, String result) throws InterruptedException {
    Thread.sleep(millis);
    return result;
  }

  private static Batch await(BatchService service, BatchRequest request) {
    Batch batch = service.submit(request);
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    if (!done.isFinished()) {
      throw new IllegalStateException("batch " + batch.id() + " did not finish within " + WAIT);
    }
    return done;
  }

  private static Job find(BatchService service, Batch batch, String payload) {
    return service.getJobs(batch.id(), JobQuery.all()).items().stream()
        .filter(job -> job.payload().equals(payload))
        .findFirst()
        .orElseThrow();
  }

  private static List<String> names(String prefix, int n) {
    List<String> names = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      names.add(prefix + "-" + i);
    }
    return names;
  }

  private static String seconds(List<Duration> times) {
    StringBuilder text = new StringBuilder();
    for (Duration time : times) {
      text.append(String.format(Locale.ROOT, " %.2f", time.toMillis() / 1000.0));
    }
    return text.toString().strip();
  }

  /** Prints retries, timeouts and cancellations as they happen, and notes when geocodes start. */
  private static final class Narrator implements BatchListener {
    private final PrintStream out;
    private final long start = System.nanoTime();
    private final Map<JobId, Long> failedAt = new ConcurrentHashMap<>();
    private final List<Long> geocodeStarts = new CopyOnWriteArrayList<>();

    Narrator(PrintStream out) {
      this.out = out;
    }

    @Override
    public void jobStarted(JobContext job) {
      Long failed = failedAt.remove(job.jobId());
      if (failed != null) {
        say(
            "%s attempt %d starts %.2f s after attempt %d failed",
            job.payload(), job.attempt(), (System.nanoTime() - failed) / 1e9, job.attempt() - 1);
      }
      if (job.jobType().equals("geocode")) {
        geocodeStarts.add(System.nanoTime());
      }
    }

    @Override
    public void jobFailed(JobContext job, Throwable error, boolean willRetry) {
      failedAt.put(job.jobId(), System.nanoTime());
      say(
          "%s attempt %d failed: %s -> %s",
          job.payload(), job.attempt(), error, willRetry ? "will retry" : "no attempts left");
    }

    @Override
    public void jobSucceeded(JobContext job, String result) {
      if (job.attempt() > 1) {
        say("%s succeeded on attempt %d", job.payload(), job.attempt());
      }
    }

    @Override
    public void jobCancelled(JobContext job) {
      say("%s was running and stopped: its batch was cancelled", job.payload());
    }

    List<Duration> geocodeStarts() {
      List<Long> sorted = new ArrayList<>(geocodeStarts);
      Collections.sort(sorted);
      List<Duration> starts = new ArrayList<>();
      for (long at : sorted) {
        starts.add(Duration.ofNanos(at - sorted.get(0)));
      }
      return starts;
    }

    private void say(String format, Object... args) {
      double at = (System.nanoTime() - start) / 1e9;
      out.println(
          String.format(Locale.ROOT, "   [%5.2fs] ", at)
              + String.format(Locale.ROOT, format, args));
    }
  }
}
