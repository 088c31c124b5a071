package io.batchkit.internal.scheduler;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.DoubleSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Memory-aware concurrency ({@code BatchService.Builder.memoryAware}): while the heap in use after
 * the last garbage collection is above a fraction of its maximum, the service starts no new job;
 * running jobs go on, and starting resumes once the heap is back below. Each episode is logged once
 * at INFO when it begins and once when it ends. A class of its own so that the rule, and how the
 * heap is read, are found by name.
 *
 * <p>The heap is read through the {@link MemoryPoolMXBean}s of the old generation (heap pools that
 * support both usage thresholds; eden and survivor spaces do not): the highest ratio of used after
 * the last collection to maximum among them. That figure only changes at a collection of that pool,
 * so a heap full of garbage that the next collection frees does not stop the service; and a paused
 * service resumes only once a collection has freed the old generation (running jobs and the rest of
 * the application keep allocating, so one comes). Tests and users may give a probe of their own.
 *
 * <p>Ownership: {@link #paused} is the one mutable field, an atomic flag that the dispatcher and
 * the workers both read and flip; whoever flips it logs the episode.
 */
final class MemoryGuard {
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  /** A guard that never pauses: the service is not memory-aware. */
  static final MemoryGuard OFF = new MemoryGuard(2.0, () -> 0.0);

  private final double fraction;
  private final DoubleSupplier usedFraction;
  private final AtomicBoolean paused = new AtomicBoolean();
  private final AtomicBoolean probeFailed = new AtomicBoolean();

  /** The old-generation pools, read once: the JVM's pools do not change while it runs. */
  private static final List<MemoryPoolMXBean> TENURED =
      tenured(ManagementFactory.getMemoryPoolMXBeans());

  MemoryGuard(double fraction, DoubleSupplier usedFraction) {
    this.fraction = fraction;
    this.usedFraction = usedFraction;
  }

  /**
   * Returns whether new jobs must wait now, logging the start and the end of each episode. A probe
   * that throws is logged once and counts as "not over": a broken probe must not stop the service.
   */
  boolean paused() {
    if (this == OFF) {
      return false;
    }
    double used;
    try {
      used = usedFraction.getAsDouble();
    } catch (RuntimeException e) {
      if (probeFailed.compareAndSet(false, true)) {
        LOG.warn("the memoryAware probe threw; jobs start as if memory were free", e);
      }
      return false;
    }
    boolean over = used > fraction;
    if (over && paused.compareAndSet(false, true)) {
      LOG.info(
          "heap after the last collection is at {}% of its maximum, over the {}% set by"
              + " memoryAware: no new job starts until it is back below",
          Math.round(used * 100), Math.round(fraction * 100));
    } else if (!over && paused.compareAndSet(true, false)) {
      LOG.info(
          "heap after the last collection is back at {}% of its maximum: jobs start again",
          Math.round(used * 100));
    }
    return over;
  }

  /**
   * The default probe: the highest ratio of heap used after the last collection to the maximum,
   * among the old-generation pools; 0 when none reports it.
   */
  static double heapAfterLastCollection() {
    return heapAfterLastCollection(TENURED);
  }

  /**
   * The old-generation pools among {@code pools}: heap pools that report both a usage threshold and
   * their usage after a collection (young pools such as eden and survivor report only the latter,
   * and a survivor space is often nearly full after a collection by design).
   */
  static List<MemoryPoolMXBean> tenured(List<MemoryPoolMXBean> pools) {
    List<MemoryPoolMXBean> old = new ArrayList<>();
    for (MemoryPoolMXBean pool : pools) {
      if (pool.getType() == MemoryType.HEAP
          && pool.isUsageThresholdSupported()
          && pool.isCollectionUsageThresholdSupported()) {
        old.add(pool);
      }
    }
    return List.copyOf(old);
  }

  /** The highest ratio of used after the last collection to maximum among {@code pools}. */
  static double heapAfterLastCollection(List<MemoryPoolMXBean> pools) {
    double highest = 0;
    for (MemoryPoolMXBean pool : pools) {
      MemoryUsage after = pool.getCollectionUsage();
      if (after == null || after.getMax() <= 0) {
        continue;
      }
      highest = Math.max(highest, (double) after.getUsed() / after.getMax());
    }
    return highest;
  }
}
