package io.batchkit.internal.scheduler;

import io.batchkit.spi.JobStore;
import java.time.Clock;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Deletes history older than the service's retention ({@code historyRetention}): a minute after the
 * service starts, then every {@link #INTERVAL}, the dispatcher asks the store to purge ({@link
 * JobStore#purgeHistory}) up to {@link #ROWS_PER_CALL} rows, and again every second while a call
 * found that many, so that a backlog goes in short steps that never hold the dispatcher long. Every
 * service sharing a store does it; the deletes are idempotent. A class of its own so that "where
 * does old history go" is found by name.
 *
 * <p>Ownership: it runs on the dispatcher thread only, which owns its fields.
 */
final class HistoryPruner {
  /** Logs under the service's name, as the other parts do. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  /** How often history is purged when the last purge left nothing. */
  static final Duration INTERVAL = Duration.ofMinutes(10);

  /** The most rows one call deletes. */
  static final int ROWS_PER_CALL = 1_000;

  /** When the first purge comes after the start: soon, so that short-lived services purge too. */
  static final Duration FIRST_DELAY = Duration.ofMinutes(1);

  /** How soon the next step comes while a backlog lasts. */
  static final Duration BACKLOG_STEP = Duration.ofSeconds(1);

  private final JobStore store;
  private final Clock clock;
  private final Duration retention;
  private final long intervalNanos;
  private final long stepNanos;

  /** When the last purge was (System.nanoTime); set so that the first comes after the delay. */
  private long lastNanos;

  /** True while a purge found more to delete: the next round purges again. */
  private boolean more;

  private boolean failing;
  private boolean unsupported;

  HistoryPruner(ServiceConfig config) {
    this(config.store(), config.clock(), config.historyRetention(), FIRST_DELAY, INTERVAL);
  }

  /**
   * A pruner of {@code store} that purges {@code firstDelay} after it is made, then every {@code
   * interval} (and every second, or every interval if shorter, while a backlog lasts).
   */
  HistoryPruner(
      JobStore store, Clock clock, Duration retention, Duration firstDelay, Duration interval) {
    this.store = store;
    this.clock = clock;
    this.retention = retention;
    this.intervalNanos = interval.toNanos();
    this.stepNanos = Math.min(intervalNanos, BACKLOG_STEP.toNanos());
    this.lastNanos = System.nanoTime() - intervalNanos + firstDelay.toNanos();
  }

  /**
   * Purges one step when it is due. A failure is logged (once until a purge succeeds) and not
   * thrown: nothing else depends on it.
   */
  void tick() {
    long now = System.nanoTime();
    if (unsupported || now - lastNanos < (more ? stepNanos : intervalNanos)) {
      return;
    }
    lastNanos = now;
    try {
      int deleted = store.purgeHistory(clock.instant().minus(retention), ROWS_PER_CALL);
      more = deleted >= ROWS_PER_CALL;
      failing = false;
      if (deleted > 0) {
        LOG.debug("deleted {} history rows older than {}", deleted, retention);
      }
    } catch (UnsupportedOperationException e) {
      unsupported = true;
      LOG.debug("the store keeps no history to purge ({})", e.toString());
    } catch (RuntimeException e) {
      more = false;
      if (!failing) {
        failing = true;
        LOG.warn("could not delete old history ({}); trying again later", e.toString());
      }
    }
  }
}
