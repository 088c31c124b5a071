package io.batchkit.internal.scheduler;

import io.batchkit.Batch;
import io.batchkit.spi.JobStore;
import java.time.Duration;
import java.util.List;

/**
 * Starts the batches whose scheduled time has come ({@code BatchRequest.Builder.startAt}): every
 * {@link #CHECK_INTERVAL} the dispatcher asks the store to start the due ones ({@link
 * JobStore#startDueBatches}), so that whichever service sharing the store is up starts them, and
 * tells the listeners. A class of its own so that scheduled starts are found by name.
 *
 * <p>Ownership: it runs on the dispatcher thread only, which owns {@link #lastCheckNanos}.
 */
final class ScheduledStarts {
  /** How often the store is asked: a batch starts within about this of its time. */
  static final Duration CHECK_INTERVAL = Duration.ofSeconds(1);

  private final ServiceConfig config;
  private final JobStore store;
  private final Listeners listeners;
  private long lastCheckNanos = System.nanoTime() - CHECK_INTERVAL.toNanos();

  ScheduledStarts(ServiceConfig config, Listeners listeners) {
    this.config = config;
    this.store = config.store();
    this.listeners = listeners;
  }

  /**
   * Starts the due batches when a check is due; returns how many it started, so that the dispatcher
   * claims at once. A store failure propagates.
   */
  int tick() {
    long now = System.nanoTime();
    if (now - lastCheckNanos < CHECK_INTERVAL.toNanos()) {
      return 0;
    }
    lastCheckNanos = now;
    List<Batch> started = store.startDueBatches(config.clock().instant());
    for (Batch batch : started) {
      listeners.fire("batchStarted", batch.id(), l -> l.batchStarted(batch));
    }
    return started.size();
  }

  /** Returns the nanoseconds until the next check, for the dispatcher's sleep. */
  long nanosUntilCheck() {
    return Math.max(0, CHECK_INTERVAL.toNanos() - (System.nanoTime() - lastCheckNanos));
  }
}
