package io.batchkit.internal.util;

import java.time.Duration;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one factory for every thread batchkit starts: daemon threads with a recognisable name, so
 * that a thread dump shows whose they are and none of them keeps the JVM alive.
 */
public final class DaemonThreadFactory implements ThreadFactory {
  private static final Logger LOG = LoggerFactory.getLogger(DaemonThreadFactory.class);

  private final String prefix;
  private final AtomicInteger counter = new AtomicInteger();

  /** Creates a factory naming threads {@code prefix-1}, {@code prefix-2} and so on. */
  public DaemonThreadFactory(String prefix) {
    this.prefix = Checks.notBlank(prefix, "prefix");
  }

  @Override
  public Thread newThread(Runnable runnable) {
    Thread thread = new Thread(runnable, prefix + "-" + counter.incrementAndGet());
    thread.setDaemon(true);
    thread.setUncaughtExceptionHandler(
        (t, e) -> LOG.error("Uncaught exception in batchkit thread {}", t.getName(), e));
    return thread;
  }

  /**
   * Waits up to {@code max} for {@code thread} to end; returns whether it has. An interrupt ends
   * the wait early and stays set on the calling thread. A {@code max} of zero or less waits a
   * millisecond.
   *
   * @throws NullPointerException if an argument is null
   */
  public static boolean awaitEnd(Thread thread, Duration max) {
    Checks.notNull(thread, "thread");
    Checks.notNull(max, "max");
    try {
      thread.join(Math.max(1, max.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return !thread.isAlive();
  }
}
