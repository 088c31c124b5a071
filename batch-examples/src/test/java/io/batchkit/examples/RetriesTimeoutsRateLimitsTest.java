package io.batchkit.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.BatchStatus;
import io.batchkit.CancellationSummary;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(120)
class RetriesTimeoutsRateLimitsTest {
  @Test
  void run_showsRetryTimeoutRateLimitAndCancellation() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

    RetriesTimeoutsRateLimits.Outcome o = RetriesTimeoutsRateLimits.run(out, 4);
    String text = bytes.toString(StandardCharsets.UTF_8);

    assertEquals(BatchStatus.COMPLETED, o.retried().status(), text);
    assertEquals(new Progress(4, 0, 0, 4, 0, 0), o.retried().progress());
    assertEquals(3, o.flaky().attempt());
    assertTrue(
        text.contains(
            "upload-2 attempt 1 failed: java.io.IOException: connection reset -> will retry"),
        text);
    assertTrue(text.contains("upload-2 attempt 3 starts"), text);

    assertEquals(BatchStatus.PARTIAL, o.timedOut().status(), text);
    assertEquals(new Progress(2, 0, 0, 1, 1, 0), o.timedOut().progress());
    assertEquals(JobStatus.FAILED, o.slow().status());
    assertTrue(o.slow().error().orElse("").contains("TimeoutException"), o.slow().toString());

    assertEquals(BatchStatus.COMPLETED, o.rateLimited().status(), text);
    assertEquals(4, o.starts().size());

    CancellationSummary summary = o.summary();
    Progress cancelled = o.cancelled().progress();
    assertEquals(BatchStatus.CANCELLED, o.cancelled().status(), text);
    assertEquals(
        16, summary.cancelledQueued() + summary.stoppingRunning() + summary.alreadyFinished());
    // jobs that had not ended were cancelled, queued or leased (running, or fetched ahead)
    assertTrue(cancelled.cancelled() > 0, cancelled.toString());
    assertTrue(summary.alreadyFinished() >= 4, summary.toString());
    assertEquals(0, cancelled.pending());
    assertEquals(0, cancelled.failed());
    assertTrue(cancelled.cancelled() >= summary.cancelledQueued(), cancelled.toString());
  }
}
