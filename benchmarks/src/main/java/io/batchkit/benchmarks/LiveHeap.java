package io.batchkit.benchmarks;

import com.sun.management.GarbageCollectionNotificationInfo;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.ListenerNotFoundException;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.openmbean.CompositeData;

/**
 * The heap that live data takes, for the memory programs: read after collections, so that garbage
 * is not counted. Best with a stop-the-world collector, whose requested collections are complete.
 */
final class LiveHeap {
  private LiveHeap() {}

  /** Collects until the used heap stops shrinking, then returns it. */
  static long usedAfterGc() throws InterruptedException {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 10; i++) {
      System.gc();
      TimeUnit.MILLISECONDS.sleep(50);
      long now = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
      if (now >= used) {
        return now;
      }
      used = now;
    }
    return used;
  }

  /**
   * The highest heap in use right after any collection, from {@link #watch} until {@link #close}:
   * the live data at its peak, give or take what a young collection promotes.
   */
  static final class Peak implements AutoCloseable {
    private final AtomicLong peak;
    private final NotificationListener listener;

    private Peak(long start) {
      this.peak = new AtomicLong(start);
      this.listener =
          (notification, handback) -> {
            if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(
                notification.getType())) {
              long used =
                  GarbageCollectionNotificationInfo.from((CompositeData) notification.getUserData())
                      .getGcInfo()
                      .getMemoryUsageAfterGc()
                      .values()
                      .stream()
                      .mapToLong(MemoryUsage::getUsed)
                      .sum();
              peak.accumulateAndGet(used, Math::max);
            }
          };
      for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
        ((NotificationEmitter) gc).addNotificationListener(listener, null, null);
      }
    }

    /** Starts watching, counting {@code start} (the heap now, after a collection) as the peak. */
    static Peak watch(long start) {
      return new Peak(start);
    }

    /** The peak so far. */
    long get() {
      return peak.get();
    }

    @Override
    public void close() {
      for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
        try {
          ((NotificationEmitter) gc).removeNotificationListener(listener);
        } catch (ListenerNotFoundException e) {
          throw new IllegalStateException(e);
        }
      }
    }
  }
}
