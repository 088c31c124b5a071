package io.batchkit.internal.scheduler;

import io.batchkit.Batch;
import io.batchkit.spi.JobStore;
import java.time.Duration;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the batches whose scheduled time has come ({@code BatchRequest.Builder.startAt}): every
 * {@link #CHECK_INTERVAL} the dispatcher asks the store to start the due ones ({@link
 * JobStore#startDueBatches}), so that whichever service sharing the store is up starts them, and
 * tells the listeners. A class of its own so that scheduled starts are found by name.
 *
 * <p>Ownership: it runs on the dispatcher thread only, which owns its two fields.
 */
final class ScheduledStarts {
  /** Logs under the service's name, as the other parts do. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  /** How often the store is asked: a batch starts within about this of its time. */
  static final Duration CHECK_INTERVAL = Duration.ofSeconds(1);

  private final ServiceConfig config;
  private final JobStore store;
  private final Listeners listeners;
  private long lastCheckNanos = System.nanoTime() - CHECK_INTERVAL.toNanos();
  private boolean failing;

  ScheduledStarts(ServiceConfig config, Listeners listeners) {
    this.config = config;
    this.store = config.store();
    this.listeners = listeners;
  }

  /**
   * Starts the due batches when a check is due; returns how many it started, so that the dispatcher
   * claims at once. A failure is logged (once until a check succeeds) and not thrown: claims and
   * outcomes do not depend on it, and must not back off for it.
   */
  int tick() {
    long now = System.nanoTime();
    if (now - lastCheckNanos < CHECK_INTERVAL.toNanos()) {
      return 0;
    }
    lastCheckNanos = now;
    List<Batch> started;
    try {
      started = store.startDueBatches(config.clock().instant());
      failing = false;
    } catch (RuntimeException e) {
      if (!failing) {
        failing = true;
        LOG.warn("could not start the batches whose time came ({}); trying again", e.toString());
      }
      return 0;
    }
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
