package io.batchkit.internal.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.BatchStatus;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobOutcome.Kind;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.JobStoreContractTest;
import io.batchkit.spi.Subscription;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Runs the {@link JobStore} contract against the in-memory store, plus what this store promises
 * beyond it: it announces its own new work to its subscribers, on the changing thread, once its
 * lock is released.
 */
class InMemoryJobStoreTest extends JobStoreContractTest {
  @Override
  protected JobStore newStore() {
    return JobStore.inMemory();
  }

  @Test
  void subscribe_announcesEachKindOfNewWork_afterReleasingTheLock() throws Exception {
    ExecutorService otherThread = Executors.newSingleThreadExecutor();
    AtomicInteger calls = new AtomicInteger();
    List<Throwable> problems = new CopyOnWriteArrayList<>();
    // another thread reads the store inside the callback: it would wait forever on a held lock
    Subscription subscription =
        store.subscribe(
            () -> {
              calls.incrementAndGet();
              try {
                otherThread.submit(store::countQueuedJobs).get(10, TimeUnit.SECONDS);
              } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                problems.add(e);
              } catch (Exception e) {
                problems.add(e);
              }
            });
    try {
      Stored started = announced(calls, "a batch created started", () -> insert(batch(3)));
      Stored pending = insert(batch(1).jobType("p").status(BatchStatus.PENDING));
      announced(calls, "a batch started", () -> store.startBatch(pending.id(), at(1)));
      List<ClaimedJob> claimed = claim(NODE_A, 3, at(1));
      announced(
          calls,
          "a retry",
          () -> store.complete(List.of(JobOutcome.retry(claimed.get(0), "again", at(2))), at(2)));
      announced(
          calls,
          "a release",
          () -> store.complete(List.of(JobOutcome.released(claimed.get(1))), at(2)));
      announced(
          calls,
          "an expired lease",
          () -> store.requeueExpired(at(1).plus(LEASE).plusSeconds(1), 10));
      store.claim(request(NODE_A, 1, at(400), Map.of("p", 1)));
      claimAndComplete(JOB_TYPE, at(400), Kind.FAILED, Kind.FAILED, Kind.FAILED);
      assertEquals(BatchStatus.FAILED, batchOf(started.id()).status());
      announced(calls, "failed jobs retried", () -> store.retryFailed(started.id(), at(401)));

      assertEquals(List.of(), problems);
    } finally {
      subscription.close();
      otherThread.shutdownNow();
    }
  }

  @Test
  void subscribe_keepsACallbackThatThrew() {
    AtomicInteger calls = new AtomicInteger();
    Subscription subscription =
        store.subscribe(
            () -> {
              calls.incrementAndGet();
              throw new IllegalStateException("a subscriber's bug (expected by the test)");
            });

    insert(batch(1));
    insert(batch(1));

    assertEquals(2, calls.get());
    subscription.close();
  }

  @Test
  void subscribe_closingTwice_leavesAnotherSubscriptionOfTheSameCallback() {
    AtomicInteger calls = new AtomicInteger();
    Runnable callback = calls::incrementAndGet;
    Subscription first = store.subscribe(callback);
    Subscription second = store.subscribe(callback);

    first.close();
    first.close();
    insert(batch(1));

    assertEquals(1, calls.get(), "the second subscription still runs");
    second.close();
    insert(batch(1));
    assertEquals(1, calls.get());
  }

  private static <T> T announced(
      AtomicInteger calls, String what, java.util.function.Supplier<T> change) {
    int before = calls.get();
    T result = change.get();
    assertTrue(calls.get() > before, what + " is announced");
    return result;
  }
}
