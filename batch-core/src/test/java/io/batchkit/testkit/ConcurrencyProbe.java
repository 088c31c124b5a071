package io.batchkit.testkit;

import io.batchkit.BatchId;
import io.batchkit.JobContext;
import io.batchkit.JobId;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Records how many jobs run at once, overall and per batch, and whether any job ever ran twice at
 * the same time. Processors call {@link #enter} first and {@link #exit} in a finally block.
 */
public final class ConcurrencyProbe {
  private final AtomicInteger current = new AtomicInteger();
  private final AtomicInteger peak = new AtomicInteger();
  private final Map<BatchId, AtomicInteger> perBatch = new ConcurrentHashMap<>();
  private final Map<BatchId, AtomicInteger> perBatchPeak = new ConcurrentHashMap<>();
  private final Set<JobId> runningJobs = ConcurrentHashMap.newKeySet();
  private final AtomicInteger overlaps = new AtomicInteger();

  public void enter(JobContext ctx) {
    if (!runningJobs.add(ctx.jobId())) {
      overlaps.incrementAndGet();
    }
    peak.accumulateAndGet(current.incrementAndGet(), Math::max);
    int inBatch =
        perBatch.computeIfAbsent(ctx.batchId(), k -> new AtomicInteger()).incrementAndGet();
    perBatchPeak
        .computeIfAbsent(ctx.batchId(), k -> new AtomicInteger())
        .accumulateAndGet(inBatch, Math::max);
  }

  public void exit(JobContext ctx) {
    perBatch.get(ctx.batchId()).decrementAndGet();
    current.decrementAndGet();
    runningJobs.remove(ctx.jobId());
  }

  public int peak() {
    return peak.get();
  }

  public int current() {
    return current.get();
  }

  public int peak(BatchId batch) {
    AtomicInteger p = perBatchPeak.get(batch);
    return p == null ? 0 : p.get();
  }

  /** Times a job entered while the same job was still running. */
  public int overlaps() {
    return overlaps.get();
  }
}
