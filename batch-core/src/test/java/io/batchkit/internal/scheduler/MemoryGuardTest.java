package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.when;

import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** How {@link MemoryGuard} reads the heap and decides. */
class MemoryGuardTest {

  @Test
  void heap_isTheHighestUsedToMaxRatioAfterACollection_amongHeapPoolsThatReportIt() {
    MemoryPoolMXBean old = pool(MemoryType.HEAP, true, true, 80, 100);
    MemoryPoolMXBean otherOld = pool(MemoryType.HEAP, true, true, 10, 100);
    MemoryPoolMXBean survivor = pool(MemoryType.HEAP, false, true, 99, 100); // young: no usage
    MemoryPoolMXBean metaspace = pool(MemoryType.NON_HEAP, true, true, 99, 100);
    MemoryPoolMXBean unbounded = pool(MemoryType.HEAP, true, true, 99, -1);

    List<MemoryPoolMXBean> tenured =
        MemoryGuard.tenured(List.of(old, otherOld, survivor, metaspace, unbounded));
    assertEquals(List.of(old, otherOld, unbounded), tenured);
    assertEquals(0.8, MemoryGuard.heapAfterLastCollection(tenured), 1e-9);
    assertEquals(0.0, MemoryGuard.heapAfterLastCollection(List.of()), 1e-9);
  }

  @Test
  void heap_ofThisJvm_isAFraction() {
    double used = MemoryGuard.heapAfterLastCollection();
    assertTrue(used >= 0 && used <= 1, "used " + used);
  }

  @Test
  void paused_whileOverTheFraction_only() {
    AtomicReference<Double> used = new AtomicReference<>(0.5);
    MemoryGuard guard = new MemoryGuard(0.8, used::get);
    assertFalse(guard.paused());
    used.set(0.81);
    assertTrue(guard.paused());
    assertTrue(guard.paused());
    used.set(0.8);
    assertFalse(guard.paused(), "at the fraction, not over it");
    assertFalse(MemoryGuard.OFF.paused());
  }

  @Test
  void aProbeThatThrows_doesNotPause() {
    MemoryGuard guard =
        new MemoryGuard(
            0.8,
            () -> {
              throw new IllegalStateException("broken probe");
            });
    assertFalse(guard.paused());
    assertFalse(guard.paused());
  }

  private static MemoryPoolMXBean pool(
      MemoryType type, boolean usage, boolean afterCollection, long used, long max) {
    MemoryPoolMXBean pool = mock(MemoryPoolMXBean.class);
    when(pool.getType()).thenReturn(type);
    when(pool.isUsageThresholdSupported()).thenReturn(usage);
    when(pool.isCollectionUsageThresholdSupported()).thenReturn(afterCollection);
    when(pool.getCollectionUsage()).thenReturn(new MemoryUsage(0, used, Math.max(used, max), max));
    return pool;
  }
}
