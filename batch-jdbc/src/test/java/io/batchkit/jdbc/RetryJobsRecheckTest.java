package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.Job;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * {@code retryJobs} queues a job again only if it is still failed when the change runs, not only
 * when it was read: a job that left {@code FAILED} in between (which the locking rule rules out
 * today, as a failed job changes only under its batch row) makes the whole call refused, with the
 * counters and every job as they were.
 */
class RetryJobsRecheckTest {
  private static final String TYPE = "recheck";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  @Test
  void retryJobs_ofAJobThatStoppedBeingFailedBeforeTheChange_refusesAll() {
    String prefix = TestDatabases.uniquePrefix();
    AtomicReference<UUID> moveFirst = new AtomicReference<>();
    DataSource ds = movingBeforeRequeue(TestDatabases.h2(), prefix, moveFirst);
    JdbcJobStore store = JdbcJobStore.builder(ds).tablePrefix(prefix).createSchema(true).build();
    Batch batch = StartedBatches.insert(store, TYPE, 2, 1, T0);
    List<ClaimedJob> claimed =
        store.claim(
            new ClaimRequest(
                "node-a", 2, T0, T0.plusSeconds(60), Duration.ofMinutes(1), Map.of(TYPE, 2)));
    assertEquals(2, claimed.size());
    store.complete(
        List.of(
            JobOutcome.failed(claimed.get(0), "boom"), JobOutcome.failed(claimed.get(1), "boom")),
        T0.plusSeconds(1));
    Batch before = store.findBatch(batch.id()).orElseThrow();
    moveFirst.set(claimed.get(1).id().value());

    IllegalStateException refused =
        assertThrows(
            IllegalStateException.class,
            () ->
                store.retryJobs(
                    List.of(claimed.get(0).id(), claimed.get(1).id()), T0.plusSeconds(2)));

    assertTrue(refused.getMessage().contains("none was retried"), refused.getMessage());
    assertEquals(before, store.findBatch(batch.id()).orElseThrow(), "counters as they were");
    for (Job job : store.listJobs(batch.id(), JobQuery.all()).items()) {
      assertEquals(JobStatus.FAILED, job.status(), job.id().toString());
    }
  }

  /**
   * Wraps {@code ds} so that, once {@code moveFirst} holds a job's id, the statement that queues
   * failed jobs again is preceded, in its transaction, by a change of that job to {@code
   * SUCCEEDED}.
   */
  private static DataSource movingBeforeRequeue(
      DataSource ds, String prefix, AtomicReference<UUID> moveFirst) {
    return InterceptedConnections.wrap(
        ds,
        (real, method, args) -> {
          UUID job = moveFirst.get();
          if (job != null
              && method.getName().equals("prepareStatement")
              && ((String) args[0]).contains("SET status = 'QUEUED', attempt = 0")) {
            try (PreparedStatement move =
                real.prepareStatement(
                    "UPDATE " + prefix + "jobs SET status = 'SUCCEEDED' WHERE id = ?")) {
              move.setObject(1, job);
              assertEquals(1, move.executeUpdate());
            }
          }
        });
  }
}
