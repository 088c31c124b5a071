package io.batchkit.spi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.BatchStatus;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class BatchStatusRuleTest {

  @ParameterizedTest(
      name =
          "[{index}] queued={0} processing={1} succeeded={2} failed={3} cancelled={4}"
              + " byUser={5} tripped={6} -> {7}")
  @CsvSource(
      textBlock =
          """
          # queued, processing, succeeded, failed, cancelled, byUser, tripped, expected
          # every job succeeded
               0,          0,         5,      0,         0,  false,   false, COMPLETED
               0,          0,         1,      0,         0,  false,   false, COMPLETED
          # some succeeded, the others failed or were cancelled (not by a user)
               0,          0,         3,      2,         0,  false,   false, PARTIAL
               0,          0,         1,      4,         0,  false,   false, PARTIAL
               0,          0,         2,      0,         3,  false,   false, PARTIAL
               0,          0,         2,      1,         2,  false,   false, PARTIAL
          # none succeeded
               0,          0,         0,      5,         0,  false,   false, FAILED
               0,          0,         0,      3,         2,  false,   false, FAILED
               0,          0,         0,      0,         5,  false,   false, FAILED
          # cancelled by a user, whatever finished before
               0,          0,         5,      0,         0,   true,   false, CANCELLED
               0,          0,         3,      2,         0,   true,   false, CANCELLED
               0,          0,         0,      5,         0,   true,   false, CANCELLED
               2,          1,         1,      1,         0,   true,   false, CANCELLED
               5,          0,         0,      0,         0,   true,   false, CANCELLED
               0,          2,         0,      0,         3,   true,   false, CANCELLED
          # a user cancel wins over a tripped policy
               1,          0,         2,      2,         0,   true,    true, CANCELLED
          # the failure policy tripped, with or without pending or succeeded jobs
               3,          1,         0,      1,         0,  false,    true, FAILED
               0,          0,         4,      1,         0,  false,    true, FAILED
               0,          0,         0,      2,         3,  false,    true, FAILED
               0,          2,         5,      3,         0,  false,    true, FAILED
          """)
  void finalStatus_table(
      long queued,
      long processing,
      long succeeded,
      long failed,
      long cancelled,
      boolean cancelledByUser,
      boolean failurePolicyTripped,
      BatchStatus expected) {
    long total = queued + processing + succeeded + failed + cancelled;
    Progress progress = new Progress(total, queued, processing, succeeded, failed, cancelled);

    BatchStatus status =
        BatchStatusRule.finalStatus(progress, cancelledByUser, failurePolicyTripped);

    assertEquals(expected, status);
    assertTrue(status.isFinal(), () -> status + " must be a final status");
  }

  @ParameterizedTest(name = "[{index}] queued={0} processing={1}")
  @CsvSource({"1, 0, 2, 1", "0, 1, 2, 1", "3, 2, 0, 0", "5, 0, 0, 0"})
  void finalStatus_withPendingJobsAndNoFlag_throwsNamingTheCounts(
      long queued, long processing, long succeeded, long failed) {
    long total = queued + processing + succeeded + failed;
    Progress progress = new Progress(total, queued, processing, succeeded, failed, 0);

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> BatchStatusRule.finalStatus(progress, false, false));

    assertTrue(e.getMessage().contains("pending"), e.getMessage());
    assertTrue(e.getMessage().contains("queued=" + queued), e.getMessage());
    assertTrue(e.getMessage().contains("processing=" + processing), e.getMessage());
  }

  @Test
  void finalStatus_withoutProgress_namesTheField() {
    NullPointerException e =
        assertThrows(
            NullPointerException.class, () -> BatchStatusRule.finalStatus(null, false, false));

    assertEquals("progress must not be null", e.getMessage());
  }

  @Test
  void finalStatus_fiveJobsThreeSucceededTwoFailed_isPartial() {
    Progress progress =
        Progress.allQueued(5)
            .moved(JobStatus.QUEUED, JobStatus.PROCESSING, 5)
            .moved(JobStatus.PROCESSING, JobStatus.SUCCEEDED, 3)
            .moved(JobStatus.PROCESSING, JobStatus.FAILED, 2);

    assertEquals(5, progress.total());
    assertEquals(3, progress.succeeded());
    assertEquals(2, progress.failed());
    assertEquals(0, progress.pending());
    assertEquals(100.0, progress.percentage());
    assertEquals(BatchStatus.PARTIAL, BatchStatusRule.finalStatus(progress, false, false));
  }
}
