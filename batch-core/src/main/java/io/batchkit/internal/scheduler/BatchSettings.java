package io.batchkit.internal.scheduler;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.spi.JobStore;
import java.util.function.Function;

/**
 * The immutable settings of the batches this node tracked jobs of, so that a job needs no store
 * call for them: a cache of up to 10,000 batches, and a memo of the last one read, as most jobs
 * tracked in a row are of one batch (no cache lookup per job). Forgotten on delete by the node that
 * deletes ({@link #forget}); other nodes' copies age out of the cache.
 *
 * <p>Any thread that tracks a job reads and writes the memo; a stale value is a batch's settings
 * all the same, as they never change. A read racing {@link #forget} may leave a deleted batch's
 * settings in the memo: one object, until the next batch's, as no job of a deleted batch is claimed
 * again.
 */
final class BatchSettings {
  private final Cache<BatchId, Batch> cache = Caffeine.newBuilder().maximumSize(10_000).build();

  /** Reads a batch's settings from the store for {@link #cache}; made once, not per job. */
  private final Function<BatchId, Batch> read;

  private volatile Batch last;

  BatchSettings(JobStore store) {
    this.read = id -> store.findBatch(id).orElse(null);
  }

  /** Returns the settings of batch {@code id}, or null if the store no longer has it. */
  Batch get(BatchId id) {
    Batch batch = last;
    if (batch == null || !batch.id().equals(id)) {
      batch = cache.get(id, read);
      if (batch != null) {
        last = batch;
      }
    }
    return batch;
  }

  /** Forgets the settings of a deleted batch. */
  void forget(BatchId id) {
    cache.invalidate(id);
    Batch memo = last;
    if (memo != null && memo.id().equals(id)) {
      last = null;
    }
  }
}
