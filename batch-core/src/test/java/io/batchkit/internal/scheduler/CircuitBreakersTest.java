package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.CircuitState;
import io.batchkit.JobId;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** The timing rules of {@link CircuitBreakers}, on a clock the test moves. */
class CircuitBreakersTest {
  private final AtomicReference<Instant> now =
      new AtomicReference<>(Instant.parse("2030-01-01T00:00:00Z"));
  private final List<String> changes = new CopyOnWriteArrayList<>();
  private final CircuitBreakers breakers =
      new CircuitBreakers(
          Map.of("api", new CircuitBreakerConfig(2, Duration.ofMinutes(1), Duration.ofSeconds(30))),
          new Clock() {
            @Override
            public java.time.ZoneId getZone() {
              return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
              return this;
            }

            @Override
            public Instant instant() {
              return now.get();
            }
          },
          (type, state) -> changes.add(type + " " + state));

  @Test
  void theWaitForATrial_isNeverZero_andAnOpenPeriodThatEndedHalfOpensTheCircuit() {
    JobId early = JobId.random();
    assertEquals(Long.MAX_VALUE, breakers.nanosUntilTrial(), "nothing is open");
    breakers.failed("api", JobId.random());
    breakers.failed("api", JobId.random());
    assertEquals(List.of("api OPEN"), changes);
    assertEquals(Duration.ofSeconds(30).toNanos(), breakers.nanosUntilTrial());
    assertEquals(0, breakers.allowance("api", 5));
    assertFalse(breakers.mayStart("api", early), "nothing starts while open");

    now.set(now.get().plusSeconds(30));
    long wait = breakers.nanosUntilTrial();

    assertTrue(wait > 0, "the dispatcher never spins on it: " + wait);
    assertEquals(List.of("api OPEN", "api HALF_OPEN"), changes);
    assertEquals(Map.of("api", CircuitState.HALF_OPEN), breakers.states());
    assertEquals(1, breakers.allowance("api", 5), "one trial");
    JobId trial = JobId.random();
    breakers.claimed("api", trial);
    assertEquals(0, breakers.allowance("api", 5), "only one");
    assertTrue(breakers.mayStart("api", trial));
    assertFalse(breakers.mayStart("api", early), "a job claimed before is not the trial");

    // the outcomes of other jobs (running since before the circuit opened) decide nothing
    breakers.succeeded("api", early);
    breakers.failed("api", JobId.random());
    breakers.ended("api", JobId.random());
    assertEquals(Map.of("api", CircuitState.HALF_OPEN), breakers.states());
    assertEquals(0, breakers.allowance("api", 5), "the trial still runs");

    breakers.ended("api", trial); // the trial was given back unrun: another may go
    assertEquals(1, breakers.allowance("api", 5));
    JobId second = JobId.random();
    breakers.claimed("api", second);
    breakers.succeeded("api", second);
    assertEquals(List.of("api OPEN", "api HALF_OPEN", "api CLOSED"), changes);
    assertEquals(5, breakers.allowance("api", 5));
    assertTrue(breakers.mayStart("api", early));
    assertEquals(7, breakers.allowance("other", 7), "a type without a breaker");
  }
}
