package io.batchkit.internal.scheduler;

import dev.failsafe.CircuitBreaker;
import io.batchkit.CircuitState;
import io.batchkit.JobId;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The circuit breakers of one service, one per job type that has one: they keep a failing
 * downstream from burning every attempt. After {@code failures} failed attempts of a type within
 * {@code window}, its circuit opens: the dispatcher claims no job of the type, and jobs claimed
 * ahead go back to the queue, so its batches wait instead of failing. After {@code openFor}, the
 * circuit is half open: one trial job is claimed; its success closes the circuit, its failure opens
 * it again for another {@code openFor}.
 *
 * <p>Each breaker's state machine is a Failsafe {@link CircuitBreaker}, driven here by the
 * service's clock (Failsafe's own timers read the system clock, which tests cannot move): the
 * failure window is counted here, and the open period's end is decided here.
 *
 * <p>Ownership: workers record attempts and the dispatcher asks for allowances, so every method
 * works on a breaker's state under this object's monitor; listeners are told after the monitor is
 * released. The map of breakers itself never changes after the constructor.
 */
final class CircuitBreakers {
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private final Clock clock;

  /**
   * One breaker per configured type, fixed in the constructor: read without the monitor, so that a
   * type without a breaker (most, and every one when none is configured) costs a lookup, not a
   * lock, per job.
   */
  private final Map<String, Breaker> breakers;

  private final BiConsumer<String, CircuitState> onChange;

  /** One type's breaker. Guarded by the enclosing object. */
  private static final class Breaker {
    final CircuitBreakerConfig config;
    final CircuitBreaker<Object> circuit;
    final Deque<Instant> failures = new ArrayDeque<>();
    Instant openedAt;

    /** The job claimed as the half-open circuit's trial; null while none is. */
    JobId trial;

    Breaker(CircuitBreakerConfig config) {
      this.config = config;
      // thresholds of 1: this class decides when to open; Failsafe holds the state
      this.circuit =
          CircuitBreaker.builder()
              .withFailureThreshold(1)
              .withSuccessThreshold(1)
              .withDelay(Duration.ofDays(36_500)) // never half-opens by itself
              .build();
    }
  }

  /**
   * @param onChange told of each change of a type's state (OPEN, HALF_OPEN, CLOSED), after it
   */
  CircuitBreakers(
      Map<String, CircuitBreakerConfig> configs,
      Clock clock,
      BiConsumer<String, CircuitState> onChange) {
    this.clock = clock;
    this.onChange = onChange;
    Map<String, Breaker> byType = new LinkedHashMap<>();
    configs.forEach((type, config) -> byType.put(type, new Breaker(config)));
    this.breakers = Collections.unmodifiableMap(byType);
  }

  boolean isEmpty() {
    return breakers.isEmpty();
  }

  /** Returns the breaker of {@code jobType}, or null; without hashing when there are none. */
  private Breaker of(String jobType) {
    return breakers.isEmpty() ? null : breakers.get(jobType);
  }

  /**
   * Returns how many jobs of {@code jobType} may be claimed now: all of {@code wanted} while the
   * circuit is closed, none while it is open, one trial once it is half open; half-opens it when
   * its open period is over.
   */
  int allowance(String jobType, int wanted) {
    boolean halfOpened;
    int allowed;
    Breaker b = of(jobType);
    if (b == null) {
      return wanted;
    }
    synchronized (this) {
      halfOpened = halfOpenIfDue(b);
      if (b.circuit.isClosed()) {
        allowed = wanted;
      } else if (b.circuit.isHalfOpen() && b.trial == null) {
        allowed = Math.min(1, wanted);
      } else {
        allowed = 0;
      }
    }
    if (halfOpened) {
      halfOpened(jobType);
    }
    return allowed;
  }

  /** Half-opens {@code b} if its open period is over; returns whether it did. Under the monitor. */
  private boolean halfOpenIfDue(Breaker b) {
    if (b.circuit.isOpen() && !clock.instant().isBefore(b.openedAt.plus(b.config.openFor()))) {
      b.circuit.halfOpen();
      b.trial = null;
      return true;
    }
    return false;
  }

  private void halfOpened(String jobType) {
    LOG.info("circuit of job type '{}' is half open: one trial job runs", jobType);
    onChange.accept(jobType, CircuitState.HALF_OPEN);
  }

  /**
   * Whether job {@code job} of {@code jobType} may start now: any while its circuit is closed, only
   * the trial while it is half open, none while it is open.
   */
  boolean mayStart(String jobType, JobId job) {
    Breaker b = of(jobType);
    if (b == null) {
      return true;
    }
    synchronized (this) {
      return b.circuit.isClosed() || (b.circuit.isHalfOpen() && job.equals(b.trial));
    }
  }

  /** Whether the circuit of {@code jobType} is closed (true for a type without a breaker). */
  boolean isClosed(String jobType) {
    Breaker b = of(jobType);
    if (b == null) {
      return true;
    }
    synchronized (this) {
      return b.circuit.isClosed();
    }
  }

  /** Notes that a claim took job {@code job} of {@code jobType}: if half open, it is the trial. */
  void claimed(String jobType, JobId job) {
    Breaker b = of(jobType);
    if (b == null) {
      return;
    }
    synchronized (this) {
      if (b.circuit.isHalfOpen() && b.trial == null) {
        b.trial = job;
      }
    }
  }

  /**
   * Records an attempt that ended neither in success nor in failure (cancelled, lost, given back
   * unstarted or at shutdown): if it was the trial, the next claim may take another.
   */
  void ended(String jobType, JobId job) {
    Breaker b = of(jobType);
    if (b == null) {
      return;
    }
    synchronized (this) {
      if (job.equals(b.trial)) {
        b.trial = null;
      }
    }
  }

  /**
   * Records a successful attempt: the trial's success closes a half-open circuit; any other success
   * (a job that ran before the circuit opened) changes nothing.
   */
  void succeeded(String jobType, JobId job) {
    boolean closed = false;
    Breaker b = of(jobType);
    if (b == null) {
      return;
    }
    synchronized (this) {
      if (!b.circuit.isHalfOpen() || !job.equals(b.trial)) {
        return;
      }
      b.circuit.recordSuccess();
      closed = b.circuit.isClosed();
      b.trial = null;
      b.failures.clear();
    }
    if (closed) {
      LOG.info("circuit of job type '{}' closed: its trial job succeeded", jobType);
      onChange.accept(jobType, CircuitState.CLOSED);
    }
  }

  /**
   * Records a failed attempt: a closed circuit opens once the window holds enough failures; the
   * trial's failure opens a half-open one again. Failures of other jobs while it is not closed
   * (they ran before it opened) change nothing.
   */
  void failed(String jobType, JobId job) {
    boolean opened = false;
    Breaker b = of(jobType);
    if (b == null) {
      return;
    }
    synchronized (this) {
      Instant now = clock.instant();
      if (b.circuit.isHalfOpen() && job.equals(b.trial)) {
        b.circuit.recordFailure();
        b.trial = null;
        opened = true;
      } else if (b.circuit.isClosed()) {
        b.failures.addLast(now);
        Instant since = now.minus(b.config.window());
        while (!b.failures.isEmpty() && b.failures.peekFirst().isBefore(since)) {
          b.failures.removeFirst();
        }
        if (b.failures.size() >= b.config.failures()) {
          b.circuit.open();
          opened = true;
        }
      }
      if (opened) {
        b.openedAt = now;
        b.failures.clear();
      }
    }
    if (opened) {
      LOG.warn(
          "circuit of job type '{}' opened: its jobs wait in the queue for {}, then one trial runs",
          jobType,
          b.config.openFor());
      onChange.accept(jobType, CircuitState.OPEN);
    }
  }

  /**
   * Half-opens the circuits whose open period is over (their change wakes the dispatcher, which
   * claims the trial), and returns the nanoseconds until the next open one may, for the
   * dispatcher's sleep: never 0, so that the dispatcher cannot spin on it.
   */
  long nanosUntilTrial() {
    long min = Long.MAX_VALUE;
    if (breakers.isEmpty()) {
      return min;
    }
    List<String> halfOpened = new ArrayList<>();
    synchronized (this) {
      Instant now = clock.instant();
      for (Map.Entry<String, Breaker> entry : breakers.entrySet()) {
        Breaker b = entry.getValue();
        if (halfOpenIfDue(b)) {
          halfOpened.add(entry.getKey());
        } else if (b.circuit.isOpen()) {
          long nanos = Duration.between(now, b.openedAt.plus(b.config.openFor())).toNanos();
          min = Math.min(min, Math.max(1, nanos));
        }
      }
    }
    halfOpened.forEach(this::halfOpened);
    return min;
  }

  /** Returns each type's state, for {@code statistics()}. */
  synchronized Map<String, CircuitState> states() {
    Map<String, CircuitState> states = new LinkedHashMap<>();
    breakers.forEach(
        (type, b) ->
            states.put(
                type,
                b.circuit.isClosed()
                    ? CircuitState.CLOSED
                    : b.circuit.isOpen() ? CircuitState.OPEN : CircuitState.HALF_OPEN));
    return states;
  }
}
