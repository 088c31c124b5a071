package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class BackoffTest {

  /**
   * The largest double below 1 ({@code Math.nextDown(1.0)}), as a constant for the tables: {@code
   * delayAfter} takes randoms in {@code [0, 1)}.
   */
  private static final double ALMOST_ONE = 0.9999999999999999;

  private static final Duration SECOND = Duration.ofSeconds(1);
  private static final Duration FIVE_MINUTES = Duration.ofMinutes(5);

  @ParameterizedTest(name = "[{index}] after attempt {0}: {1} ms")
  @CsvSource({
    // attempts below 1 count as the first
    "-1,      1000",
    "0,       1000",
    // doubling from the initial delay
    "1,       1000",
    "2,       2000",
    "3,       4000",
    "4,       8000",
    "9,     256000",
    // capped at the maximum (512 s would be next)
    "10,    300000",
    "11,    300000",
    "41,    300000",
    "1000,  300000",
    "2147483647, 300000",
  })
  void delayAfter_withoutJitter_doublesFromInitialUpToMax(int failedAttempt, long millis) {
    Backoff backoff = new Backoff(SECOND, FIVE_MINUTES, 0.0);

    assertEquals(Duration.ofMillis(millis), backoff.delayAfter(failedAttempt, 0.5));
  }

  @ParameterizedTest(name = "[{index}] random {0}")
  @ValueSource(doubles = {0.0, 0.25, 0.5, 0.75, ALMOST_ONE})
  void delayAfter_withZeroJitter_isExactWhateverTheRandom(double random) {
    Backoff backoff = new Backoff(Duration.ofMillis(300), FIVE_MINUTES, 0.0);

    assertEquals(Duration.ofMillis(300), backoff.delayAfter(1, random));
    assertEquals(Duration.ofMillis(600), backoff.delayAfter(2, random));
    assertEquals(Duration.ofMillis(1200), backoff.delayAfter(3, random));
  }

  @ParameterizedTest(name = "[{index}] jitter {0}, attempt {1}, random {2} -> {3} ms")
  @CsvSource({
    // jitter, attempt, random, millis: base 1000 ms at attempt 1, 2000 ms at attempt 2
    "0.2,      1,       0.0,       800",
    "0.2,      1,       0.5,      1000",
    "0.2,      1,       1.0,      1200",
    "0.2,      2,       0.0,      1600",
    "0.2,      2,       1.0,      2400",
    "0.5,      1,       0.0,       500",
    "0.5,      1,       0.75,     1250",
    "1.0,      1,       0.0,         0",
    "1.0,      1,       1.0,      2000",
    "0.1,      3,       0.25,     3800",
  })
  void delayAfter_withJitter_spreadsSymmetricallyAroundTheBase(
      double jitter, int attempt, double random, long millis) {
    Backoff backoff = new Backoff(SECOND, FIVE_MINUTES, jitter);
    // 1.0 in the table stands for the largest random below 1
    double r = random == 1.0 ? ALMOST_ONE : random;

    assertEquals(Duration.ofMillis(millis), backoff.delayAfter(attempt, r));
  }

  @Test
  void delayAfter_atTheCap_jitterNeverGoesAboveMax() {
    Backoff backoff = new Backoff(SECOND, FIVE_MINUTES, 0.2);
    assertEquals(Math.nextDown(1.0), ALMOST_ONE);

    assertEquals(FIVE_MINUTES, backoff.delayAfter(20, ALMOST_ONE));
    assertEquals(FIVE_MINUTES, backoff.delayAfter(20, 0.5));
    assertEquals(Duration.ofMinutes(4), backoff.delayAfter(20, 0.0));
  }

  @Test
  void delayAfter_manyRandoms_staysWithinTheJitterBoundsAndTheCap() {
    long seed = 20240917L;
    Random random = new Random(seed);
    Backoff backoff = new Backoff(SECOND, FIVE_MINUTES, 0.2);
    for (int i = 0; i < 10_000; i++) {
      int attempt = 1 + random.nextInt(15);
      double r = random.nextDouble();
      double base = Math.min(300_000.0, 1000.0 * Math.pow(2, attempt - 1));

      long millis = backoff.delayAfter(attempt, r).toMillis();

      String where = "seed " + seed + ", attempt " + attempt + ", random " + r + ": " + millis;
      assertTrue(millis >= Math.round(base * 0.8), where);
      assertTrue(millis <= Math.min(300_000, Math.round(base * 1.2)), where);
    }
  }

  @Test
  void delayAfter_withZeroInitial_isAlwaysZero() {
    Backoff backoff = new Backoff(Duration.ZERO, FIVE_MINUTES, 0.5);

    assertEquals(Duration.ZERO, backoff.delayAfter(1, ALMOST_ONE));
    assertEquals(Duration.ZERO, backoff.delayAfter(30, 0.0));
  }

  @Test
  void delayAfter_withInitialEqualToMax_isConstant() {
    Backoff backoff = new Backoff(Duration.ofSeconds(10), Duration.ofSeconds(10), 0.0);

    assertEquals(Duration.ofSeconds(10), backoff.delayAfter(1, 0.3));
    assertEquals(Duration.ofSeconds(10), backoff.delayAfter(7, 0.3));
  }
}
