package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

class ProgressTest {

  /** Distinct counts, so that a mixed-up field shows. */
  private static final Progress MIXED = new Progress(15, 1, 2, 3, 4, 5);

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource(
      textBlock =
          """
          # total, queued, processing, succeeded, failed, cancelled, pending, finished, percentage
                0,      0,          0,         0,      0,         0,       0,        0,    0.0
                5,      5,          0,         0,      0,         0,       5,        0,    0.0
                5,      0,          0,         3,      2,         0,       0,        5,  100.0
                4,      1,          1,         1,      1,         0,       2,        2,   50.0
                3,      2,          0,         1,      0,         0,       2,        1,   33.3333333333
                3,      0,          0,         1,      1,         1,       0,        3,  100.0
               15,      1,          2,         3,      4,         5,       3,       12,   80.0
               10,      0,         10,         0,      0,         0,      10,        0,    0.0
          """)
  void derivedFigures_table(
      long total,
      long queued,
      long processing,
      long succeeded,
      long failed,
      long cancelled,
      long pending,
      long finished,
      double percentage) {
    Progress progress = new Progress(total, queued, processing, succeeded, failed, cancelled);

    assertEquals(pending, progress.pending(), "pending");
    assertEquals(finished, progress.finished(), "finished");
    assertEquals(percentage, progress.percentage(), 1e-6, "percentage");
    assertEquals(total, progress.pending() + progress.finished(), "pending + finished");
  }

  @Test
  void allQueued_countsEveryJobAsQueued() {
    Progress progress = Progress.allQueued(7);

    assertEquals(new Progress(7, 7, 0, 0, 0, 0), progress);
    assertEquals(7, progress.pending());
    assertEquals(0, progress.finished());
    assertEquals(0.0, progress.percentage());
  }

  @ParameterizedTest(name = "[{index}] {0} -> {1}")
  @CsvSource({"QUEUED, 1", "PROCESSING, 2", "SUCCEEDED, 3", "FAILED, 4", "CANCELLED, 5"})
  void count_returnsTheCountOfThatStatus(JobStatus status, long expected) {
    assertEquals(expected, MIXED.count(status));
  }

  @Test
  void count_withoutStatus_namesTheField() {
    NullPointerException e = assertThrows(NullPointerException.class, () -> MIXED.count(null));

    assertEquals("status must not be null", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {2} from {0} to {1}")
  @CsvSource(
      textBlock =
          """
          # from,       to,         count, queued, processing, succeeded, failed, cancelled
          QUEUED,       PROCESSING,     1,      0,          3,         3,      4,         5
          PROCESSING,   SUCCEEDED,      2,      1,          0,         5,      4,         5
          PROCESSING,   QUEUED,         1,      2,          1,         3,      4,         5
          FAILED,       QUEUED,         4,      5,          2,         3,      0,         5
          QUEUED,       CANCELLED,      1,      0,          2,         3,      4,         6
          SUCCEEDED,    FAILED,         3,      1,          2,         0,      7,         5
          CANCELLED,    QUEUED,         5,      6,          2,         3,      4,         0
          """)
  void moved_table(
      JobStatus from,
      JobStatus to,
      long count,
      long queued,
      long processing,
      long succeeded,
      long failed,
      long cancelled) {
    Progress moved = MIXED.moved(from, to, count);

    assertEquals(new Progress(15, queued, processing, succeeded, failed, cancelled), moved);
    assertEquals(new Progress(15, 1, 2, 3, 4, 5), MIXED, "the original must not change");
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @EnumSource(JobStatus.class)
  void moved_toTheSameStatusOrNoJobs_returnsAnEqualProgress(JobStatus status) {
    assertEquals(MIXED, MIXED.moved(status, status, MIXED.count(status)));
    assertEquals(MIXED, MIXED.moved(status, JobStatus.QUEUED, 0));
  }

  @Test
  void moved_everyJobThroughItsLifeCycle_endsFinished() {
    Progress progress =
        Progress.allQueued(3)
            .moved(JobStatus.QUEUED, JobStatus.PROCESSING, 3)
            .moved(JobStatus.PROCESSING, JobStatus.SUCCEEDED, 1)
            .moved(JobStatus.PROCESSING, JobStatus.FAILED, 1)
            .moved(JobStatus.PROCESSING, JobStatus.CANCELLED, 1);

    assertEquals(new Progress(3, 0, 0, 1, 1, 1), progress);
    assertEquals(100.0, progress.percentage());
  }

  @ParameterizedTest(name = "[{index}] {1} from {0}")
  @CsvSource({
    "QUEUED, -1, 1",
    "QUEUED, 2, 1",
    "PROCESSING, 3, 2",
    "CANCELLED, 6, 5",
    "FAILED, 5, 4"
  })
  void moved_moreJobsThanTheStatusHoldsOrNegative_namesCountAndStatus(
      JobStatus from, long count, long holds) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> MIXED.moved(from, JobStatus.SUCCEEDED, count));

    assertEquals(
        "cannot move " + count + " jobs from " + from + ", it holds " + holds, e.getMessage());
  }

  @Test
  void moved_withoutFromOrTo_namesTheField() {
    NullPointerException noFrom =
        assertThrows(NullPointerException.class, () -> MIXED.moved(null, JobStatus.QUEUED, 1));
    NullPointerException noTo =
        assertThrows(NullPointerException.class, () -> MIXED.moved(JobStatus.QUEUED, null, 1));

    assertEquals("from must not be null", noFrom.getMessage());
    assertEquals("to must not be null", noTo.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {6}")
  @CsvSource(
      textBlock =
          """
          # total, queued, processing, succeeded, failed, cancelled, the negative field
               -1,      0,          0,         0,      0,         0, total=-1
                0,     -1,          1,         0,      0,         0, queued=-1
                0,      1,         -1,         0,      0,         0, processing=-1
                0,      0,          0,        -1,      1,         0, succeeded=-1
                0,      0,          0,         1,     -1,         0, failed=-1
                0,      1,          0,         0,      0,        -1, cancelled=-1
          """)
  void new_withNegativeCount_namesTheCount(
      long total,
      long queued,
      long processing,
      long succeeded,
      long failed,
      long cancelled,
      String named) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Progress(total, queued, processing, succeeded, failed, cancelled));

    assertTrue(e.getMessage().contains("must not be negative"), e.getMessage());
    assertTrue(e.getMessage().contains(named), e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] total={0}")
  @CsvSource({"5, 1, 1, 1, 1, 0", "3, 1, 1, 1, 1, 0", "0, 0, 0, 0, 0, 1", "10, 10, 0, 0, 0, 1"})
  void new_withCountsNotAddingUpToTotal_namesTotalAndCounts(
      long total, long queued, long processing, long succeeded, long failed, long cancelled) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Progress(total, queued, processing, succeeded, failed, cancelled));

    assertTrue(e.getMessage().contains("must add up to total"), e.getMessage());
    assertTrue(e.getMessage().contains("total=" + total), e.getMessage());
    assertTrue(e.getMessage().contains("queued=" + queued), e.getMessage());
    assertTrue(e.getMessage().contains("cancelled=" + cancelled), e.getMessage());
  }

  @Test
  void new_withCountsWhoseSumOverflows_throws() {
    // MAX + MAX + 2 wraps round to 0, so a plain sum would say these add up to a total of 0
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new Progress(0, Long.MAX_VALUE, Long.MAX_VALUE, 2, 0, 0));

    assertTrue(e.getMessage().contains("total=0"), e.getMessage());
    assertTrue(e.getMessage().contains("queued=" + Long.MAX_VALUE), e.getMessage());
  }

  @Test
  void allQueued_withNegativeTotal_namesTheTotal() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> Progress.allQueued(-2));

    assertTrue(e.getMessage().contains("must not be negative"), e.getMessage());
    assertTrue(e.getMessage().contains("total=-2"), e.getMessage());
  }
}
