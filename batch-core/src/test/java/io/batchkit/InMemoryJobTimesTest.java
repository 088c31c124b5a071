package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * On the in-memory store each worker records its job's outcome and claims its next job itself, with
 * times it reads once per millisecond and reuses within it: every job's times must still be in
 * order, from the batch's creation to the job's start, its end and its last change.
 */
@Timeout(60)
class InMemoryJobTimesTest {
  private static final int JOBS = 20_000;

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  @Test
  void everyJobStartsAfterItsBatchWasMadeAndEndsAfterItStarted() {
    BatchService service =
        services.start(
            BatchService.builder()
                .store(JobStore.inMemory())
                .maxConcurrency(8)
                .processor("t", ctx -> null));
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(JOBS)).maxConcurrency(8).build());
    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(30));
    assertEquals(new Progress(JOBS, 0, 0, JOBS, 0, 0), done.progress(), done.toString());

    int seen = 0;
    for (int offset = 0; offset < JOBS; offset += JobQuery.MAX_LIMIT) {
      Page<Job> page = service.getJobs(batch.id(), JobQuery.all().page(offset, JobQuery.MAX_LIMIT));
      for (Job job : page.items()) {
        Instant started = job.startedAt().orElseThrow();
        Instant finished = job.finishedAt().orElseThrow();
        assertFalse(started.isBefore(batch.createdAt()), job.toString());
        assertFalse(finished.isBefore(started), job.toString());
        assertFalse(job.updatedAt().isBefore(finished), job.toString());
        seen++;
      }
    }
    assertEquals(JOBS, seen);
    assertTrue(done.completedAt().isPresent(), done.toString());
  }
}
