package io.batchkit.internal.memory;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.spi.Subscription;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who the in-memory store tells of claimable work and of finished batches ({@code
 * JobStore.subscribe} and {@code subscribeFinished}), and the telling. The store calls it after
 * releasing its lock, so that no subscriber runs under it. Thread-safe: both lists are
 * copy-on-write.
 */
final class InMemorySubscribers {
  /** Logs under the store's name. */
  private static final Logger LOG = LoggerFactory.getLogger(InMemoryJobStore.class);

  private final List<Runnable> work = new CopyOnWriteArrayList<>();
  private final List<Consumer<BatchId>> finished = new CopyOnWriteArrayList<>();

  Subscription onWork(Runnable subscriber) {
    work.add(subscriber);
    // a second close must not remove another subscription of the same callback
    AtomicBoolean open = new AtomicBoolean(true);
    return () -> {
      if (open.compareAndSet(true, false)) {
        work.remove(subscriber);
      }
    };
  }

  Subscription onFinished(Consumer<BatchId> subscriber) {
    finished.add(subscriber);
    AtomicBoolean open = new AtomicBoolean(true);
    return () -> {
      if (open.compareAndSet(true, false)) {
        finished.remove(subscriber);
      }
    };
  }

  /** Tells the work subscribers that work may be claimable. */
  void announceWork() {
    for (Runnable subscriber : work) {
      try {
        subscriber.run();
      } catch (RuntimeException e) {
        LOG.warn("a JobStore subscriber threw; ignored", e);
      }
    }
  }

  /** Tells the finish subscribers about the finished batches among {@code changed}. */
  void announceFinished(List<Batch> changed) {
    for (int i = 0; i < changed.size(); i++) { // a result's list, cheap to index; once per job
      Batch batch = changed.get(i);
      if (batch.isFinished()) {
        announceFinished(batch.id());
      }
    }
  }

  void announceFinished(BatchId id) {
    for (Consumer<BatchId> subscriber : finished) {
      try {
        subscriber.accept(id);
      } catch (RuntimeException e) {
        LOG.warn("a JobStore finish subscriber threw; ignored", e);
      }
    }
  }
}
