package io.batchkit.examples;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.Progress;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

/**
 * Draws a batch's progress: one line redrawn in place on a terminal, or a plain line per update
 * when the output is a file or a CI log.
 *
 * <p>Hand-written on purpose: the examples need counts per status next to the bar, and a progress
 * bar library would bring a terminal library (and its native bits) into the runnable jar for what
 * is thirty lines here.
 */
final class ProgressLine {
  private static final int WIDTH = 30;

  private final PrintStream out;
  private final boolean terminal;

  ProgressLine(PrintStream out, boolean terminal) {
    this.out = out;
    this.terminal = terminal;
  }

  /** Whether this JVM writes to an interactive terminal. */
  static boolean isTerminal() {
    return System.console() != null;
  }

  /**
   * Shows the batch's progress until it is finished (ten times a second on a terminal, once a
   * second otherwise) and returns its final snapshot.
   *
   * @throws IllegalStateException if the service is closed meanwhile (by a Ctrl-C, for example)
   */
  Batch follow(BatchService service, BatchId id) {
    long start = System.nanoTime();
    Duration every = terminal ? Duration.ofMillis(100) : Duration.ofSeconds(1);
    Batch now = service.getBatch(id);
    long finishedBefore = now.progress().finished(); // jobs done by earlier runs or other callers
    try {
      while (!now.isFinished()) {
        now = service.awaitCompletion(id, every);
        show(now, finishedBefore, Duration.ofNanos(System.nanoTime() - start));
      }
    } finally {
      end();
    }
    return now;
  }

  void show(Batch batch, long finishedBefore, Duration elapsed) {
    String line = render(batch, finishedBefore, elapsed);
    if (terminal) {
      out.print("\r" + line + "   ");
    } else {
      out.println(line);
    }
    out.flush();
  }

  void end() {
    if (terminal) {
      out.println();
    }
  }

  /** Renders one line; the rate counts only the jobs finished since {@code finishedBefore}. */
  static String render(Batch batch, long finishedBefore, Duration elapsed) {
    Progress p = batch.progress();
    int filled = p.total() == 0 ? 0 : (int) (WIDTH * p.finished() / p.total());
    double seconds = Math.max(0.001, elapsed.toMillis() / 1000.0);
    String eta =
        batch
            .estimatedTimeRemaining()
            .map(d -> String.format(Locale.ROOT, "%.1fs", d.toMillis() / 1000.0))
            .orElse("-");
    return String.format(
        Locale.ROOT,
        "[%s%s] %5.1f%%  ok %d  failed %d  running %d  queued %d  %.1f jobs/s  eta %s",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        p.percentage(),
        p.succeeded(),
        p.failed(),
        p.processing(),
        p.queued(),
        Math.max(0, p.finished() - finishedBefore) / seconds,
        eta);
  }
}
