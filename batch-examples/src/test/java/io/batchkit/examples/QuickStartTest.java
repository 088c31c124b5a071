package io.batchkit.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.Progress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class QuickStartTest {
  @Test
  void quickStart_endsPartialWithTheCorruptImagesFailed() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    Batch done = QuickStart.run(out, 20, false);

    assertEquals(BatchStatus.PARTIAL, done.status());
    assertEquals(new Progress(20, 0, 0, 18, 2, 0), done.progress());
    String text = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("Finished PARTIAL"), text);
    assertTrue(
        text.contains("corrupt-7.png -> java.lang.IllegalArgumentException: not a PNG file"), text);
    assertTrue(text.contains("photo-1.png -> photo-1-small.png"), text);
  }
}
