package io.batchkit.internal.scheduler;

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

  /**
   * Waits up to {@code nanos} unless woken; returns early on interrupt with the flag set. Returns
   * whether it was woken (rather than timed out).
   */
  boolean await(long nanos) {
    lock.lock();
    try {
      long left = nanos;
      while (!pending && left > 0) {
        left = signalled.awaitNanos(left);
      }
      boolean woken = pending;
      pending = false;
      return woken;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    } finally {
      lock.unlock();
    }
  }
}
