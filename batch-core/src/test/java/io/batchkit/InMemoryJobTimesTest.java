package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * On the in-memory store each worker records its job's outcome and claims its next job itself, with
 * a time it reads once per millisecond and reuses within it. Every job's times must still be in
 * order, also when jobs are fetched ahead by the dispatcher ({@code claimAhead}), and a job's
 * length must show in them.
 */
@Timeout(60)
class InMemoryJobTimesTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  @Test
  void everyJobStartsAfterItsBatchWasMadeAndEndsAfterItStarted() {
    assertTimesInOrder(run(BatchService.builder(), 20_000, ctx -> null));
  }

  @Test
  void withJobsFetchedAhead_everyJobEndsAfterItStarted() {
    assertTimesInOrder(run(BatchService.builder().claimAhead(50), 20_000, ctx -> null));
  }

  /** A job of 2 ms shows at least 2 ms between its start and its end: the time is read again. */
  @Test
  void aJobsLengthShowsInItsTimes() {
    for (Job job :
        run(
            BatchService.builder(),
            200,
            ctx -> {
              // the job's own work, not a wait for a condition: at least 2 ms of real time, as a
              // job's start may be its own reading of the clock less the nanoseconds it waited
              Thread.sleep(2);
              return null;
            })) {
      Duration length =
          Duration.between(job.startedAt().orElseThrow(), job.finishedAt().orElseThrow());
      assertTrue(length.compareTo(Duration.ofMillis(2)) >= 0, length + " for " + job);
    }
  }

  /** Runs a batch of {@code jobs} on a new in-memory store and returns its jobs once it ended. */
  private List<Job> run(BatchService.Builder builder, int jobs, JobProcessor processor) {
    BatchService service =
        services.start(
            builder.store(JobStore.inMemory()).maxConcurrency(8).processor("t", processor));
    Batch batch =
        service.submit(
            BatchRequest.builder("t").items(TestServices.items(jobs)).maxConcurrency(8).build());
    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress(), done.toString());
    List<Job> all = new ArrayList<>();
    for (int offset = 0; offset < jobs; offset += JobQuery.MAX_LIMIT) {
      all.addAll(
          service.getJobs(batch.id(), JobQuery.all().page(offset, JobQuery.MAX_LIMIT)).items());
    }
    assertEquals(jobs, all.size());
    for (Job job : all) {
      assertFalse(job.startedAt().orElseThrow().isBefore(batch.createdAt()), job.toString());
    }
    return all;
  }

  private static void assertTimesInOrder(List<Job> jobs) {
    for (Job job : jobs) {
      Instant started = job.startedAt().orElseThrow();
      Instant finished = job.finishedAt().orElseThrow();
      assertFalse(finished.isBefore(started), job.toString());
      assertFalse(job.updatedAt().isBefore(finished), job.toString());
    }
  }
}
