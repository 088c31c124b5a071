package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** How {@link CompletionWaiters} completes the futures of {@code BatchService.completion}. */
class CompletionWaitersTest {
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  @Test
  void aStaleFinishedSnapshot_doesNotCompleteAWaitForTheBatchRunningAgain() {
    JobStore store = JobStore.inMemory();
    Batch running = batch(BatchStatus.PROCESSING, Optional.empty());
    store.insertBatch(running, List.of(new NewJob(JobId.random(), "p")));
    CompletionWaiters waiters = new CompletionWaiters(store, new Listeners(List.of()));
    CompletableFuture<Batch> waiting = waiters.completion(running.id(), running);

    // a snapshot of an earlier end (before a retryFailed), announced late by another thread
    waiters.finished(batch(BatchStatus.PARTIAL, Optional.of(T0)));

    assertFalse(waiting.isDone(), "the batch runs again: the wait goes on");
    assertFalse(waiters.isEmpty());
  }

  @Test
  void aFinishedBatch_completesTheWait_withTheStoresSnapshot() {
    JobStore store = JobStore.inMemory();
    Batch running = batch(BatchStatus.PROCESSING, Optional.empty());
    store.insertBatch(running, List.of(new NewJob(JobId.random(), "p")));
    CompletionWaiters waiters = new CompletionWaiters(store, new Listeners(List.of()));
    CompletableFuture<Batch> waiting = waiters.completion(running.id(), running);
    Batch cancelled = store.findBatch(running.id()).orElseThrow();
    store.cancelBatch(running.id(), T0.plusSeconds(1));

    waiters.finished(cancelled);

    assertTrue(waiting.isDone());
    assertEquals(BatchStatus.CANCELLED, waiting.join().status());
    assertTrue(waiters.isEmpty());
  }

  private static Batch batch(BatchStatus status, Optional<Instant> completedAt) {
    return new Batch(
        ID,
        "b",
        "t",
        Priority.NORMAL,
        Map.of(),
        1,
        1,
        Duration.ofMinutes(1),
        FailurePolicy.never(),
        Optional.empty(),
        status,
        status == BatchStatus.PARTIAL ? new Progress(1, 0, 0, 0, 1, 0) : Progress.allQueued(1),
        T0,
        Optional.of(T0),
        T0,
        completedAt,
        Optional.empty());
  }

  private static final BatchId ID = BatchId.random();
}
