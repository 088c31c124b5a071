package io.batchkit.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.Progress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(120)
class DurableRestartTest {
  private static final Duration WORK = Duration.ofMillis(20);

  @TempDir Path dir;

  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

  @Test
  void interruptedRun_isContinuedByTheNextRun_toCompletedWithNoJobLost() {
    Path database = dir.resolve("demo");

    DurableRestart.Outcome first = DurableRestart.run(out, database, 20, WORK, 5, false);

    assertTrue(first.interrupted(), text());
    assertFalse(first.continued());
    Batch stopped = first.batch();
    assertEquals(BatchStatus.PROCESSING, stopped.status());
    assertTrue(stopped.progress().finished() >= 5, stopped.progress().toString());
    assertTrue(stopped.progress().finished() < 20, stopped.progress().toString());
    assertEquals(0, stopped.progress().processing(), "close() gives running jobs back");
    assertTrue(text().contains("Run the same command again to continue it"), text());

    DurableRestart.Outcome second = DurableRestart.run(out, database, 20, WORK, 0, false);

    assertTrue(second.continued());
    assertFalse(second.interrupted());
    assertEquals(stopped.id(), second.batch().id());
    assertEquals(BatchStatus.COMPLETED, second.batch().status());
    assertEquals(new Progress(20, 0, 0, 20, 0, 0), second.batch().progress());
    assertTrue(text().contains("Found batch " + stopped.id() + " from an earlier run"), text());
  }

  @Test
  void runAfterAFinishedBatch_startsAFreshOne() {
    Path database = dir.resolve("demo");
    DurableRestart.Outcome first = DurableRestart.run(out, database, 6, WORK, 0, false);

    DurableRestart.Outcome second = DurableRestart.run(out, database, 6, WORK, 0, false);

    assertEquals(BatchStatus.COMPLETED, first.batch().status());
    assertFalse(second.continued());
    assertNotEquals(first.batch().id(), second.batch().id());
    assertEquals(new Progress(6, 0, 0, 6, 0, 0), second.batch().progress());
    assertTrue(text().contains("had finished COMPLETED; deleting it"), text());
  }

  private String text() {
    return bytes.toString(StandardCharsets.UTF_8);
  }
}
