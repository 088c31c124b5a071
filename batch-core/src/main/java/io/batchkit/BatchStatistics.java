package io.batchkit;

import java.time.Duration;

/**
 * Figures for one {@link BatchService} since it was built.
 *
 * @param succeeded jobs this service ran to success
 * @param failed attempts that failed on this service (retried or not)
 * @param throughputPerSecond jobs ended per second, over the last minute or since start if shorter
 * @param p50 median duration of recent attempts
 * @param p95 95th percentile duration of recent attempts
 * @param p99 99th percentile duration of recent attempts
 * @param running jobs running on this service now
 * @param queued jobs queued in the store for started batches, on all nodes
 */
public record BatchStatistics(
    long succeeded,
    long failed,
    double throughputPerSecond,
    Duration p50,
    Duration p95,
    Duration p99,
    int running,
    long queued) {}
