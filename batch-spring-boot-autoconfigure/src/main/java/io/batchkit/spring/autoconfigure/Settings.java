package io.batchkit.spring.autoconfigure;

import io.batchkit.BatchService;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.core.env.Environment;

/** Copies the properties that were set onto a builder; the builder checks each value. */
final class Settings {
  private static final Logger LOG = LoggerFactory.getLogger(Settings.class);

  /** What a close takes beyond the grace period: the interrupt's grace, and handing jobs back. */
  static final Duration CLOSE_MARGIN = Duration.ofSeconds(10);

  private Settings() {}

  /**
   * Spring's time for each shutdown phase ({@code spring.lifecycle.timeout-per-shutdown-phase}).
   */
  static Duration shutdownPhase(Environment environment) {
    return Binder.get(environment)
        .bind("spring.lifecycle.timeout-per-shutdown-phase", Duration.class)
        .orElse(Duration.ofSeconds(30));
  }

  /**
   * Copies {@code p} onto {@code b}; without a shutdown grace period of its own, the service gets
   * what fits in Spring's shutdown phase ({@code phase}, less {@link #CLOSE_MARGIN}, at least a
   * second), so that the context never closes the DataSource under a service still handing jobs
   * back. One that does not fit is kept, with a warning.
   */
  static void apply(BatchkitProperties p, Duration phase, BatchService.Builder b) {
    Duration fits = phase.minus(CLOSE_MARGIN);
    if (fits.compareTo(Duration.ofSeconds(1)) < 0) {
      fits = Duration.ofSeconds(1);
    }
    if (p.getShutdownGracePeriod() == null) {
      b.shutdownGracePeriod(fits);
    } else {
      b.shutdownGracePeriod(p.getShutdownGracePeriod());
      if (p.getShutdownGracePeriod().plus(CLOSE_MARGIN).compareTo(phase) > 0) {
        LOG.warn(
            "batchkit.shutdown-grace-period ({}) and the {} a close takes beyond it exceed"
                + " spring.lifecycle.timeout-per-shutdown-phase ({}): Spring may close the"
                + " DataSource while jobs are still being handed back; raise the phase time-out",
            p.getShutdownGracePeriod(),
            CLOSE_MARGIN,
            phase);
      }
    }
    if (p.getMaxConcurrency() != null) {
      b.maxConcurrency(p.getMaxConcurrency());
    }
    if (p.getDefaultBatchConcurrency() != null) {
      b.defaultBatchConcurrency(p.getDefaultBatchConcurrency());
    }
    if (p.getDefaultMaxAttempts() != null) {
      b.defaultMaxAttempts(p.getDefaultMaxAttempts());
    }
    if (p.getDefaultJobTimeout() != null) {
      b.defaultJobTimeout(p.getDefaultJobTimeout());
    }
    if (p.getNodeId() != null) {
      b.nodeId(p.getNodeId());
    }
    if (p.getLeaseDuration() != null) {
      b.leaseDuration(p.getLeaseDuration());
    }
    if (p.getPollInterval() != null) {
      b.pollInterval(p.getPollInterval());
    }
  }
}
