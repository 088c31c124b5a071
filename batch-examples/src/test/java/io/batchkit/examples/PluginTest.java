package io.batchkit.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.Progress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class PluginTest {
  @Test
  void plugin_isFoundThroughServiceLoader_andRunsItsJobs() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    Batch done = Plugin.run(out, List.of("Call me Ishmael", "one two", "  "));

    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(new Progress(3, 0, 0, 3, 0, 0), done.progress());
    String text = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("io.batchkit.examples.plugin.WordCountProvider"), text);
    assertTrue(text.contains("3 words: Call me Ishmael"), text);
    assertTrue(text.contains("2 words: one two"), text);
    assertTrue(text.contains("0 words: "), text);
    assertTrue(text.contains("no processor is registered for job type 'word-count'"), text);
  }
}
