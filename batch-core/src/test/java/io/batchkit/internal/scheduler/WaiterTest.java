package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link Waiter} loses no wake: one sent before a wait ends it, and one racing the sleeper as it
 * goes to sleep ends its sleep. A lost wake leaves the wait for its full length (it then sees the
 * flag, and returns true all the same), so the race checks that each wait ends long before its
 * length: a version that named the sleeper only after reading the flag failed it.
 */
class WaiterTest {
  private static final long A_MINUTE = TimeUnit.MINUTES.toNanos(1);

  /** The length of each wait of the race. */
  private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(10);

  /** How long a wait of the race may last: its wake is sent at once, so far more than enough. */
  private static final long MAX_WAKE_NANOS = WAIT_NANOS / 2;

  @Test
  @Timeout(30)
  void aWakeBeforeTheWait_endsIt_once() {
    Waiter waiter = new Waiter();
    waiter.wake();
    waiter.wake(); // two before a wait are one
    assertTrue(waiter.await(A_MINUTE));
    assertFalse(waiter.await(TimeUnit.MILLISECONDS.toNanos(1)), "the wake was spent");
  }

  @Test
  @Timeout(120)
  void wakesRacingTheSleeper_areNeverLost() throws Exception {
    Waiter waiter = new Waiter();
    Semaphore woken = new Semaphore(0);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    int rounds = 10_000;
    Thread sleeper =
        new Thread(
            () -> {
              try {
                for (int i = 0; i < rounds; i++) {
                  long start = System.nanoTime();
                  boolean woke = waiter.await(WAIT_NANOS);
                  long took = System.nanoTime() - start;
                  if (!woke || took > MAX_WAKE_NANOS) {
                    throw new AssertionError(
                        "round " + i + ": the wait was not ended by its wake (" + took + " ns)");
                  }
                  woken.release();
                }
              } catch (Throwable e) {
                failure.set(e);
                woken.release(rounds);
              }
            });
    sleeper.setDaemon(true);
    sleeper.start();
    for (int i = 0; i < rounds; i++) {
      waiter.wake(); // sent while the sleeper is anywhere between two waits
      woken.acquire();
    }
    sleeper.join();
    assertEquals(null, failure.get());
  }

  @Test
  @Timeout(30)
  void anInterruptedSleeper_returnsAtOnce_withItsFlagSet() throws Exception {
    Waiter waiter = new Waiter();
    AtomicReference<Boolean> result = new AtomicReference<>();
    AtomicReference<Boolean> flag = new AtomicReference<>();
    Thread sleeper =
        new Thread(
            () -> {
              Thread.currentThread().interrupt();
              result.set(waiter.await(A_MINUTE));
              flag.set(Thread.currentThread().isInterrupted());
            });
    sleeper.start();
    sleeper.join();
    assertEquals(false, result.get());
    assertEquals(true, flag.get());
    waiter.wake();
    assertTrue(waiter.await(A_MINUTE), "a wake sent later is still seen");
  }

  @Test
  void aWaitWithoutWake_timesOut() {
    assertFalse(new Waiter().await(TimeUnit.MILLISECONDS.toNanos(5)));
  }
}
