package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.JobId;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Started batches stored straight through a store's SPI, for the tests that race its steps. */
final class StartedBatches {
  private StartedBatches() {}

  /**
   * Stores a batch started at {@code at} of {@code size} queued jobs of {@code type}, each tried at
   * most {@code maxAttempts} times, that may run all its jobs at once and never fails early.
   */
  static Batch insert(JobStore store, String type, int size, int maxAttempts, Instant at) {
    Batch batch =
        new Batch(
            BatchId.random(),
            "race",
            type,
            Priority.NORMAL,
            Map.of(),
            size,
            maxAttempts,
            Duration.ofMinutes(1),
            FailurePolicy.never(),
            Optional.empty(),
            BatchStatus.PROCESSING,
            Progress.allQueued(size),
            at,
            Optional.of(at),
            at,
            Optional.empty(),
            Optional.empty());
    List<NewJob> jobs = new ArrayList<>();
    for (int i = 0; i < size; i++) {
      jobs.add(new NewJob(JobId.random(), "payload " + i));
    }
    assertTrue(store.insertBatch(batch, jobs).created());
    return batch;
  }
}
