package io.batchkit.internal.scheduler;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Where the dispatcher sleeps between rounds. {@link #wake()} ends the current or the next wait at
 * once, so a signal sent while the dispatcher was busy is not lost.
 */
final class Waiter {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition signalled = lock.newCondition();

  /** Guarded by lock. */
  private boolean pending;

  void wake() {
    lock.lock();
    try {
      pending = true;
      signalled.signal();
    } finally {
      lock.unlock();
    }
  }

  /** Waits up to {@code nanos} unless woken; returns early on interrupt with the flag set. */
  void await(long nanos) {
    lock.lock();
    try {
      long left = nanos;
      while (!pending && left > 0) {
        left = signalled.awaitNanos(left);
      }
      pending = false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      lock.unlock();
    }
  }

  /** Waits up to {@code amount} of {@code unit}. */
  void await(long amount, TimeUnit unit) {
    await(unit.toNanos(amount));
  }
}
