package io.batchkit.examples;

import io.batchkit.Batch;
import io.batchkit.Progress;
import java.io.PrintStream;
import java.time.Duration;
import java.util.Locale;

/**
 * Draws a batch's progress: one line redrawn in place on a terminal, or a plain line per update
 * when the output is a file or a CI log.
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

  void show(Batch batch, Duration elapsed) {
    String line = render(batch, elapsed);
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

  static String render(Batch batch, Duration elapsed) {
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
        p.finished() / seconds,
        eta);
  }
}
