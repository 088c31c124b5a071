package io.batchkit.examples;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.JobContext;
import io.batchkit.web.BatchWeb;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;

/**
 * The dashboard: an in-memory service serving its REST API and live page, with a demo batch running
 * (a tenth of its jobs fail) and a second one waiting to be started from the page.
 *
 * <p>Run it with {@code java -cp batch-examples/target/batchkit-examples.jar
 * io.batchkit.examples.Dashboard [port]} and open the address it prints; Ctrl-C stops it.
 */
public final class Dashboard implements AutoCloseable {
  private final BatchService service;
  private final BatchWeb web;
  private final Batch demo;

  private Dashboard(BatchService service, BatchWeb web, Batch demo) {
    this.service = service;
    this.web = web;
    this.demo = demo;
  }

  public static void main(String[] args) throws InterruptedException {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : BatchWeb.DEFAULT_PORT;
    Dashboard dashboard = start(System.out, port, 400, Duration.ofMillis(150));
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  dashboard.close();
                  stopped.countDown();
                }));
    stopped.await();
  }

  /**
   * Starts the service and its dashboard on {@code port} (0 for a free one) with a demo batch of
   * {@code items} jobs of up to {@code jobTime} each, and prints the address.
   */
  static Dashboard start(PrintStream out, int port, int items, Duration jobTime) {
    BatchService service =
        BatchService.builder()
            .processor("transcode", context -> transcode(context, jobTime))
            .maxConcurrency(4)
            .build();
    BatchWeb web;
    try {
      web = BatchWeb.builder(service).port(port).start();
    } catch (RuntimeException e) {
      service.close();
      throw e;
    }
    List<String> videos = new ArrayList<>();
    for (int i = 1; i <= items; i++) {
      videos.add(i % 10 == 4 ? "broken-" + i + ".mov" : "clip-" + i + ".mov");
    }
    Batch demo =
        service.submit(
            BatchRequest.builder("transcode")
                .name("transcode " + items + " clips")
                .items(videos)
                .maxConcurrency(4)
                .maxAttempts(2)
                .metadata("team", "video")
                .build());
    service.createBatch(
        BatchRequest.builder("transcode")
            .name("waiting for its start button")
            .items(videos.subList(0, Math.min(40, videos.size())))
            .build());
    out.println("Dashboard at " + web.uri() + "  (Ctrl-C stops it)");
    out.println("REST API at  " + web.uri() + "api/batches");
    return new Dashboard(service, web, demo);
  }

  /** The demo batch. */
  Batch demo() {
    return demo;
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

  /** Pretends to transcode a clip: some work, and broken files fail every time. */
  private static String transcode(JobContext context, Duration jobTime) throws Exception {
    long max = Math.max(1, jobTime.toMillis());
    Thread.sleep(ThreadLocalRandom.current().nextLong(max / 2, max + 1));
    if (context.payload().startsWith("broken")) {
      throw new IllegalArgumentException("cannot decode " + context.payload());
    }
    return context.payload().replace(".mov", ".mp4");
  }
}
