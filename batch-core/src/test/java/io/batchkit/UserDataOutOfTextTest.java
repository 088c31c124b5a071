package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.NewJob;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The values that carry a job's payload, result or error, or metadata values, show none of them in
 * their text form, so that a log line or an exception message that prints one leaks no user data.
 */
class UserDataOutOfTextTest {
  private static final String PAYLOAD = "secret-payload";
  private static final String RESULT = "secret-result";
  private static final String ERROR = "secret-error";
  private static final Instant NOW = Instant.parse("2026-11-30T06:00:00Z");

  private final JobId jobId = JobId.random();
  private final BatchId batchId = BatchId.random();

  @Test
  void job_showsItsIdsAndStatus_notItsData() {
    Job job =
        new Job(
            jobId,
            batchId,
            JobStatus.FAILED,
            2,
            PAYLOAD,
            Optional.of(RESULT),
            Optional.of(ERROR),
            Optional.of(NOW),
            Optional.of(NOW),
            NOW,
            Optional.of("node-a"));

    assertShowsNoData(job.toString(), "status=FAILED", "attempt=2", "nodeId=node-a");
  }

  @Test
  void attempt_showsItsNodeAndOutcome_notItsError() {
    JobAttempt attempt =
        new JobAttempt(jobId, 2, "node-a", NOW, NOW, JobAttempt.Outcome.FAILED, Optional.of(ERROR));

    assertShowsNoData(attempt.toString(), "attempt=2", "nodeId=node-a", "outcome=FAILED");
  }

  @Test
  void claimedJob_showsItsIdsAndToken_notItsPayload() {
    ClaimedJob claim = new ClaimedJob(jobId, batchId, PAYLOAD, 1, 42);

    assertShowsNoData(claim.toString(), "fencingToken=42", "holdsSlot=true");
  }

  @Test
  void outcomes_showTheirKind_notTheResultOrError() {
    ClaimedJob claim = new ClaimedJob(jobId, batchId, PAYLOAD, 1, 42);

    assertShowsNoData(JobOutcome.succeeded(claim, RESULT).toString(), "kind=SUCCEEDED");
    assertShowsNoData(JobOutcome.failed(claim, ERROR).toString(), "kind=FAILED");
  }

  @Test
  void retry_showsWhenItRuns_notTheError() {
    ClaimedJob claim = new ClaimedJob(jobId, batchId, PAYLOAD, 1, 42);

    assertShowsNoData(
        JobOutcome.retry(claim, ERROR, NOW).toString(), "kind=RETRY", "retryAt=" + NOW);
  }

  @Test
  void batch_showsItsMetadataKeys_notTheirValues() {
    Batch batch =
        new Batch(
            batchId,
            "nightly",
            "thumbnail",
            Priority.NORMAL,
            Map.of("customer", "secret-value"),
            3,
            3,
            Duration.ofMinutes(1),
            FailurePolicy.never(),
            Optional.empty(),
            BatchStatus.PENDING,
            Progress.allQueued(1),
            NOW,
            Optional.empty(),
            NOW,
            Optional.empty(),
            Optional.empty());

    String text = batch.toString();

    assertFalse(text.contains("secret-value"), text);
    assertTrue(text.contains("customer"), text);
    assertTrue(text.contains(batchId.toString()), text);
  }

  @Test
  void queries_showTheirMetadataKeys_notTheirValues() {
    String jobs = JobQuery.all().metadata("customer", "secret-value").toString();
    String batches = BatchQuery.builder().metadata("customer", "secret-value").build().toString();

    for (String text : List.of(jobs, batches)) {
      assertFalse(text.contains("secret-value"), text);
      assertTrue(text.contains("customer"), text);
    }
  }

  @Test
  void newJob_showsItsId_notItsPayload() {
    assertShowsNoData(new NewJob(jobId, PAYLOAD).toString());
  }

  private void assertShowsNoData(String text, String... shown) {
    assertFalse(text.contains(PAYLOAD), text);
    assertFalse(text.contains(RESULT), text);
    assertFalse(text.contains(ERROR), text);
    assertTrue(text.contains(jobId.toString()), text);
    for (String part : shown) {
      assertTrue(text.contains(part), text);
    }
  }
}
