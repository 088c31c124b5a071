package io.batchkit.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.BatchStatus;
import io.batchkit.Progress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(120)
class SeveralNodesTest {
  @Test
  void twoNodes_runEveryJobOnce_andTheBatchFinishesOnce() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    SeveralNodes.Outcome o = SeveralNodes.run(out, null, 12, false);
    String text = bytes.toString(StandardCharsets.UTF_8);

    assertEquals(BatchStatus.COMPLETED, o.batch().status(), text);
    assertEquals(new Progress(12, 0, 0, 12, 0, 0), o.batch().progress());
    assertEquals(12L, o.jobsPerNode().values().stream().mapToLong(Long::longValue).sum());
    assertTrue(Set.of("node-a", "node-b").containsAll(o.jobsPerNode().keySet()), text);
    assertEquals(1, o.finishedBy().size(), text);
    assertTrue(text.contains("batchFinished was raised once, by node-"), text);
    assertTrue(text.contains("node-a   LIVE, 3 slots"), text);
    assertTrue(text.contains("node-b   LIVE, 3 slots"), text);
  }
}
