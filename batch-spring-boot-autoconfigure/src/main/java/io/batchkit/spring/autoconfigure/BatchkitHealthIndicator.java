package io.batchkit.spring.autoconfigure;

import io.batchkit.BatchService;
import io.batchkit.BatchStatistics;
import org.springframework.boot.health.contributor.AbstractHealthIndicator;
import org.springframework.boot.health.contributor.Health;

/**
 * The {@code batchkit} health: UP with the node id and the jobs running here and queued in the
 * store while the store answers; DOWN, with the node id and the error, when it does not or the
 * service is closed.
 */
public final class BatchkitHealthIndicator extends AbstractHealthIndicator {
  private final BatchService service;

  /** A health of {@code service}. */
  public BatchkitHealthIndicator(BatchService service) {
    super("batchkit health check failed");
    this.service = service;
  }

  @Override
  protected void doHealthCheck(Health.Builder builder) {
    if (service.isClosed()) {
      builder.down().withDetail("reason", "the batchkit service is not running");
      return;
    }
    builder.withDetail("nodeId", service.nodeId());
    BatchStatistics statistics = service.statistics(); // reads the store: throws if it is down
    builder
        .up()
        .withDetail("running", statistics.running())
        .withDetail("queued", statistics.queued());
  }
}
