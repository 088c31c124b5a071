package io.batchkit.internal.memory;

import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.JobProgress;
import io.batchkit.internal.util.Webhooks;
import io.batchkit.spi.StoredRequest;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.locks.ReentrantLock;

/**
 * What an {@link InMemoryJobStore} holds, and the small steps every part of it shares. The parts
 * ({@link InMemoryClaims}, {@link InMemoryOutcomes}, {@link InMemoryLeases}, {@link InMemoryReads},
 * {@link InMemoryHistory}) and the store itself read and change it.
 *
 * <p>Ownership: every collection here is guarded by {@link #lock}; each public step of the store
 * takes it once for its whole atomic step, and what a part does "under the lock" is done within
 * such a step. The lock guards only in-memory state; no user code or I/O runs under it. The
 * subscribers and the webhook deliveries have monitors of their own.
 */
final class InMemoryState {
  final ReentrantLock lock = new ReentrantLock();
  final Map<BatchId, BatchState> batches = new HashMap<>();
  final JobIndex jobs = new JobIndex();
  final Map<String, BatchId> idempotencyKeys = new HashMap<>();

  /** PROCESSING batches that still have queued jobs, in the order they were started. */
  final Set<BatchState> runnable = new LinkedHashSet<>();

  /** Every job in status PROCESSING, for lease expiry. */
  final ProcessingJobs processing = new ProcessingJobs();

  /**
   * The progress the running jobs reported ({@code heartbeat}); a job's entry goes when its attempt
   * ends or a new one begins, so it holds running jobs only.
   */
  final Map<JobState, JobProgress> progress = new HashMap<>();

  /** Scheduled starts of PENDING batches ({@link StoredRequest#startAt()}). */
  final Map<BatchId, Instant> scheduled = new HashMap<>();

  /** Told of new work and of finished batches; not guarded by the lock: called after it. */
  final InMemorySubscribers subscribers = new InMemorySubscribers();

  /** The webhook deliveries; guarded by its own monitor, taken after the lock. */
  final InMemoryWebhooks webhooks = new InMemoryWebhooks();

  /**
   * Records an event of a batch and, when one of its webhooks is told of it, the delivery of its
   * notification, with the batch as it is now: callers record after they changed the batch.
   */
  void record(BatchState state, BatchEvent event) {
    state.events.add(event);
    if (Webhooks.toldOf(state.webhookEvents, event.type())) {
      webhooks.enqueue(state.webhooks, event, state.snapshot());
    }
  }

  /** Forgets the progress of a job whose attempt ends or begins. Call under the lock. */
  void forgetProgress(JobState job) {
    if (!progress.isEmpty()) {
      progress.remove(job);
    }
  }

  /** Returns the batch with {@code id}; throws {@link BatchNotFoundException} if none. */
  BatchState require(BatchId id) {
    BatchState state = batches.get(id);
    if (state == null) {
      throw new BatchNotFoundException(id);
    }
    return state;
  }
}
