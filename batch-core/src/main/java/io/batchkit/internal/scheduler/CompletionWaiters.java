package io.batchkit.internal.scheduler;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.spi.JobStore;
import java.util.Map;
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The futures callers wait on for a batch to finish ({@code BatchService.completion}), and the one
 * place that announces a finished batch: a class of its own so that every way such a future ends
 * (the batch finished, was deleted, or the service closed) is found together.
 *
 * <p>Ownership: {@link #awaited} is shared. A caller of {@code completion} adds a batch's future;
 * whoever removes a future completes it: the thread that learns the batch finished (the dispatcher,
 * a worker recording its outcome, or the caller of {@code cancelBatch}), the dispatcher reading a
 * batch the store reported finished ({@link #pollReported}) or polling the store ({@link
 * #pollAwaited}), the caller of {@code deleteBatch}, or {@code close()}.
 */
final class CompletionWaiters {
  /** Logs under the service's name, as it did before the service was split into parts. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private final JobStore store;
  private final Listeners listeners;
  private final Map<BatchId, CompletableFuture<Batch>> awaited = new ConcurrentHashMap<>();

  /**
   * Batches the store reported finished ({@code JobStore.subscribeFinished}) while a future here
   * waited for them: the store's thread adds, the dispatcher takes them in {@link #pollReported}.
   */
  private final Queue<BatchId> reported = new ConcurrentLinkedQueue<>();

  /** Set once by {@link #closed}; a future registered after it is failed by its own caller. */
  private volatile IllegalStateException closedWith;

  CompletionWaiters(JobStore store, Listeners listeners) {
    this.store = store;
    this.listeners = listeners;
  }

  /**
   * Returns a future that completes when batch {@code id} finishes; {@code batch} is the batch as
   * the caller just read it.
   */
  CompletableFuture<Batch> completion(BatchId id, Batch batch) {
    if (batch.isFinished()) {
      return CompletableFuture.completedFuture(batch);
    }
    CompletableFuture<Batch> future = awaited.computeIfAbsent(id, k -> new CompletableFuture<>());
    IllegalStateException closed = closedWith;
    if (closed != null) {
      // close() ran between the caller's check and the registration: nobody would complete it
      awaited.remove(id, future);
      future.completeExceptionally(closed);
      return future.copy();
    }
    // the batch may have finished between the read above and the registration
    store
        .findBatch(id)
        .filter(Batch::isFinished)
        .ifPresent(
            done -> {
              if (awaited.remove(id, future)) {
                future.complete(done);
              }
            });
    return future.copy();
  }

  /** Returns whether nobody waits for a batch (then the dispatcher need not poll the store). */
  boolean isEmpty() {
    return awaited.isEmpty();
  }

  /**
   * Announces a finished batch: tells the listeners and completes its future. The future is
   * completed from the store, not from {@code batch}: the snapshot may be older than a {@code
   * retryFailed} that made the batch run again, and a caller who waits since then waits for the new
   * end (seen in CI: a worker still holding the first end's snapshot completed the second wait).
   */
  void finished(Batch batch) {
    LOG.debug("batch {} finished {}: {}", batch.id(), batch.status(), batch.progress());
    listeners.fire("batchFinished", batch.id(), l -> l.batchFinished(batch));
    CompletableFuture<Batch> future = awaited.get(batch.id());
    if (future != null) {
      store
          .findBatch(batch.id())
          .filter(Batch::isFinished)
          .ifPresent(
              done -> {
                if (awaited.remove(batch.id(), future)) {
                  future.complete(done);
                }
              });
    }
  }

  /**
   * Completes the futures of batches that finished or were deleted, whichever node did it; for the
   * dispatcher.
   */
  void pollAwaited() {
    for (Map.Entry<BatchId, CompletableFuture<Batch>> entry : awaited.entrySet()) {
      Optional<Batch> batch = store.findBatch(entry.getKey());
      if (batch.isEmpty()) {
        if (awaited.remove(entry.getKey(), entry.getValue())) {
          entry.getValue().completeExceptionally(new BatchNotFoundException(entry.getKey()));
        }
      } else if (batch.get().isFinished() && awaited.remove(entry.getKey(), entry.getValue())) {
        entry.getValue().complete(batch.get());
      }
    }
  }

  /**
   * Notes that the store reported batch {@code id} finished, on whichever node; returns whether a
   * future here waits for it, so that the caller wakes the dispatcher to read it. Never touches the
   * store: it runs on the store's notification thread.
   */
  boolean reportedFinished(BatchId id) {
    if (!awaited.containsKey(id)) {
      return false;
    }
    reported.add(id);
    return true;
  }

  /**
   * Completes the futures of the batches reported finished since the last call; for the dispatcher.
   * A batch that is gone is left to {@link #pollAwaited}.
   */
  void pollReported() {
    BatchId id;
    while ((id = reported.poll()) != null) {
      BatchId batchId = id;
      CompletableFuture<Batch> future = awaited.get(batchId);
      if (future != null) {
        store
            .findBatch(batchId)
            .filter(Batch::isFinished)
            .ifPresent(
                done -> {
                  if (awaited.remove(batchId, future)) {
                    future.complete(done);
                  }
                });
      }
    }
  }

  /** Fails the future of a batch this service deleted. */
  void deleted(BatchId id) {
    CompletableFuture<Batch> future = awaited.remove(id);
    if (future != null) {
      future.completeExceptionally(new BatchNotFoundException(id));
    }
  }

  /** Fails every future; for {@code close()}. */
  void closed(String nodeId) {
    IllegalStateException closed =
        new IllegalStateException("batchkit service " + nodeId + " was closed");
    closedWith = closed;
    awaited.values().forEach(future -> future.completeExceptionally(closed));
    awaited.clear();
  }
}
