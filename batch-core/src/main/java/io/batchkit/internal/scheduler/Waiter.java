package io.batchkit.internal.scheduler;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * Where one thread (the dispatcher, or the fetcher) sleeps between rounds. {@link #wake()} ends the
 * current or the next wait at once, so a signal sent while the sleeper was busy is not lost.
 *
 * <p>Lock-free, because every worker may call {@link #wake()} once per job while the sleeper is
 * awake: a lock there made eight workers queue (and park) on it on a busy node. A wake sets {@link
 * #pending}, then unparks the thread named in {@link #sleeper}; a wait names itself there, then
 * reads {@code pending} before it parks. Both are volatile, so either the wait sees the flag or the
 * wake sees the sleeper, whose permit then ends its park (or the park it is about to begin).
 *
 * <p>A wake that finds a wake pending writes nothing, so it publishes nothing to the sleeper: what
 * a waker changed before waking must be in state that publishes itself (the concurrent queues,
 * atomics and volatile fields the sleepers read), as it all is.
 *
 * <p>Ownership: one thread at a time calls {@link #await}; any thread calls {@link #wake()}.
 */
final class Waiter {
  /** Set by a wake, cleared by the wait that returns. */
  private final AtomicBoolean pending = new AtomicBoolean();

  /** The thread in {@link #await}, or null. */
  private volatile Thread sleeper;

  void wake() {
    // already pending: the sleeper has been or will be told; a read leaves the cache line shared
    if (pending.get() || pending.getAndSet(true)) {
      return;
    }
    Thread t = sleeper;
    if (t != null) {
      LockSupport.unpark(t);
    }
  }

  /**
   * Waits up to {@code nanos} unless woken; returns early on interrupt with the flag set. Returns
   * whether it was woken (rather than timed out).
   */
  boolean await(long nanos) {
    Thread me = Thread.currentThread();
    sleeper = me;
    try {
      long deadline = System.nanoTime() + nanos;
      long left = nanos;
      while (!pending.get() && left > 0) {
        LockSupport.parkNanos(this, left);
        if (me.isInterrupted()) {
          return false;
        }
        left = deadline - System.nanoTime();
      }
      return pending.getAndSet(false);
    } finally {
      sleeper = null;
    }
  }
}
