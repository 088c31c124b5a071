package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class FailurePolicyTest {

  @ParameterizedTest(name = "[{index}] {0}({1}) with {3} of {2} failed -> tripped={4}")
  @CsvSource(
      textBlock =
          """
          # policy,        limit, total, failed, tripped
          never,               ,     5,      0,   false
          never,               ,     5,      5,   false
          never,               ,     0,      0,   false
          # maxFailures(n) trips once MORE than n jobs failed
          maxFailures,        2,    10,      2,   false
          maxFailures,        2,    10,      3,   true
          maxFailures,        2,     3,      3,   true
          maxFailures,        0,    10,      0,   false
          maxFailures,        0,    10,      1,   true
          maxFailures,        0,     0,      0,   false
          maxFailures,       10,    10,     10,   false
          # maxFailureRatio(r) trips once MORE than r of the jobs failed
          maxFailureRatio,  0.2,    10,      2,   false
          maxFailureRatio,  0.2,    10,      3,   true
          maxFailureRatio,  0.3,    10,      3,   false
          maxFailureRatio,  0.3,    10,      4,   true
          maxFailureRatio,  0.5,     4,      2,   false
          maxFailureRatio,  0.5,     3,      2,   true
          maxFailureRatio,  0.1,     3,      1,   true
          maxFailureRatio,  0.0,    10,      0,   false
          maxFailureRatio,  0.0,    10,      1,   true
          maxFailureRatio,  1.0,    10,     10,   false
          maxFailureRatio,  0.5,     0,      0,   false
          """)
  void isTripped_table(String policy, String limit, long total, long failed, boolean tripped) {
    FailurePolicy failurePolicy =
        switch (policy) {
          case "never" -> FailurePolicy.never();
          case "maxFailures" -> FailurePolicy.maxFailures(Integer.parseInt(limit));
          case "maxFailureRatio" -> FailurePolicy.maxFailureRatio(Double.parseDouble(limit));
          default -> throw new IllegalArgumentException(policy);
        };
    Progress progress = new Progress(total, 0, 0, total - failed, failed, 0);

    assertEquals(tripped, failurePolicy.isTripped(progress));
  }

  @ParameterizedTest(name = "[{index}] maxFailures=2, ratio=0.5 with {1} of {0} failed -> {2}")
  @CsvSource({"10, 2, false", "10, 3, true", "4, 2, false", "4, 3, true", "2, 2, true"})
  void isTripped_withBothLimits_tripsOnEither(long total, long failed, boolean tripped) {
    FailurePolicy policy = new FailurePolicy(2, 0.5);
    Progress progress = new Progress(total, 0, 0, total - failed, failed, 0);

    assertEquals(tripped, policy.isTripped(progress));
  }

  @Test
  void isTripped_countsOnlyJobsThatFailedForGood() {
    // queued, running and cancelled jobs are not failures, however many there are
    Progress progress = new Progress(10, 4, 3, 0, 1, 2);

    assertFalse(FailurePolicy.maxFailures(1).isTripped(progress));
    assertFalse(FailurePolicy.maxFailureRatio(0.1).isTripped(progress));
    assertTrue(FailurePolicy.maxFailures(0).isTripped(progress));
  }

  @Test
  void isTripped_withoutProgress_namesTheField() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> FailurePolicy.never().isTripped(null));

    assertEquals("progress must not be null", e.getMessage());
  }

  @Test
  void never_hasNoLimits() {
    FailurePolicy never = FailurePolicy.never();

    assertEquals(Integer.MAX_VALUE, never.maxFailures());
    assertEquals(1.0, never.maxFailureRatio());
    assertSame(never, FailurePolicy.never());
  }

  @Test
  void factories_setOneLimitAndLeaveTheOtherOpen() {
    assertEquals(new FailurePolicy(3, 1.0), FailurePolicy.maxFailures(3));
    assertEquals(new FailurePolicy(Integer.MAX_VALUE, 0.25), FailurePolicy.maxFailureRatio(0.25));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(ints = {-1, -100, Integer.MIN_VALUE})
  void maxFailures_negative_namesTheFieldAndValue(int n) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FailurePolicy.maxFailures(n));

    assertEquals("maxFailures must not be negative, was " + n, e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(doubles = {-0.1, 1.01, 2.0, Double.NaN, Double.POSITIVE_INFINITY})
  void maxFailureRatio_outsideZeroToOne_namesTheFieldLimitsAndValue(double ratio) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> FailurePolicy.maxFailureRatio(ratio));

    assertEquals("maxFailureRatio must be between 0.0 and 1.0, was " + ratio, e.getMessage());
  }

  @Test
  void constructor_checksBothLimits() {
    IllegalArgumentException badCount =
        assertThrows(IllegalArgumentException.class, () -> new FailurePolicy(-1, 0.5));
    IllegalArgumentException badRatio =
        assertThrows(IllegalArgumentException.class, () -> new FailurePolicy(1, 1.5));

    assertEquals("maxFailures must not be negative, was -1", badCount.getMessage());
    assertEquals("maxFailureRatio must be between 0.0 and 1.0, was 1.5", badRatio.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(doubles = {0.0, 1.0})
  void maxFailureRatio_atTheBounds_isAccepted(double ratio) {
    assertEquals(ratio, FailurePolicy.maxFailureRatio(ratio).maxFailureRatio());
  }
}
