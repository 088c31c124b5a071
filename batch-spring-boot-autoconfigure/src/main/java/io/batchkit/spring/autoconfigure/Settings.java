package io.batchkit.spring.autoconfigure;

import io.batchkit.BatchService;

/** Copies the properties that were set onto a builder; the builder checks each value. */
final class Settings {
  private Settings() {}

  static void apply(BatchkitProperties p, BatchService.Builder b) {
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
    if (p.getShutdownGracePeriod() != null) {
      b.shutdownGracePeriod(p.getShutdownGracePeriod());
    }
  }
}
