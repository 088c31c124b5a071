package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The dead-letter view through the public API: every job that failed today for a tenant. */
class ListJobsTest {
  private final TestServices services = new TestServices();

  @AfterEach
  void tearDown() {
    services.closeAll();
  }

  @Test
  void failedJobsOfATenant_acrossItsBatches_canBeFoundAndRetried() {
    BatchService service =
        services.start(
            BatchService.builder()
                .discoverProcessors(false)
                .processor(
                    "work",
                    ctx -> {
                      if (ctx.payload().startsWith("bad")) {
                        throw new IllegalStateException("refused");
                      }
                      return "ok";
                    }));
    Instant start = Instant.now().minusSeconds(1);
    Batch acme1 = run(service, "acme", List.of("bad-1", "good"));
    Batch acme2 = run(service, "acme", List.of("bad-2"));
    run(service, "other", List.of("bad-3"));

    Page<Job> deadLetters =
        service.listJobs(
            JobQuery.withStatus(JobStatus.FAILED)
                .metadata("tenant", "acme")
                .finishedBetween(start, Instant.now().plusSeconds(1)));

    assertEquals(
        List.of("bad-1", "bad-2"),
        deadLetters.items().stream().map(Job::payload).sorted().toList());
    assertEquals(
        List.of(acme1.id(), acme2.id()).stream().sorted().toList(),
        deadLetters.items().stream().map(Job::batchId).sorted().toList());
    List<Batch> retried = service.retryJobs(deadLetters.items().stream().map(Job::id).toList());
    assertEquals(2, retried.size());
  }

  @Test
  void getJobs_refusesTheFiltersAcrossBatches() {
    BatchService service =
        services.start(BatchService.builder().discoverProcessors(false).processor("work", c -> ""));
    Batch batch = service.createBatch(BatchRequest.builder("work").items(List.of("a")).build());

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> service.getJobs(batch.id(), JobQuery.all().jobType("work")));

    assertEquals(true, e.getMessage().contains("listJobs"));
    assertThrows(NullPointerException.class, () -> service.listJobs(null));
  }

  private static Batch run(BatchService service, String tenant, List<String> items) {
    Batch batch =
        service.submit(
            BatchRequest.builder("work")
                .items(items)
                .metadata("tenant", tenant)
                .maxAttempts(1)
                .build());
    return service.awaitCompletion(batch.id(), Duration.ofSeconds(30));
  }
}
