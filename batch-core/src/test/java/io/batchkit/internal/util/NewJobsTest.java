package io.batchkit.internal.util;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.JobId;
import io.batchkit.spi.NewJob;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class NewJobsTest {
  @Test
  void givesEachItemAnIdThatStaysTheSameOnEveryRead() {
    List<String> items = List.of("a", "b", "c");
    NewJobs jobs = new NewJobs(items);

    assertEquals(3, jobs.size());
    for (int i = 0; i < items.size(); i++) {
      assertEquals(items.get(i), jobs.get(i).payload());
      assertEquals(jobs.get(i), jobs.get(i), "read twice");
    }
    assertEquals(List.copyOf(jobs), List.copyOf(jobs), "iterated twice");
  }

  @Test
  void idsAreARunOfConsecutiveTimeOrderedUuids_afterEveryEarlierIdAndBeforeEveryLaterOne() {
    JobId before = JobId.random();
    NewJobs jobs = new NewJobs(List.of("a", "b", "c", "d"));
    NewJobs other = new NewJobs(List.of("e", "f"));
    JobId after = JobId.random();

    UUID first = jobs.get(0).id().value();
    for (int i = 0; i < jobs.size(); i++) {
      UUID id = jobs.get(i).id().value();
      assertEquals(first.getMostSignificantBits(), id.getMostSignificantBits());
      assertEquals(first.getLeastSignificantBits() + i, id.getLeastSignificantBits());
      assertEquals(7, id.version());
      assertEquals(2, id.variant());
    }
    assertTrue(before.compareTo(jobs.get(0).id()) < 0);
    assertTrue(jobs.get(3).id().compareTo(other.get(0).id()) < 0, "a later batch sorts after");
    assertTrue(other.get(1).id().compareTo(after) < 0);
  }

  @Test
  void tellsItsRunAndEachPayloadWithoutMakingIds() {
    NewJobs jobs = new NewJobs(List.of("a", "b"));
    UUID first = jobs.get(0).id().value();

    assertEquals(first.getMostSignificantBits(), jobs.high());
    assertEquals(first.getLeastSignificantBits(), jobs.firstLow());
    assertEquals("b", jobs.payload(1));
    assertThrows(IndexOutOfBoundsException.class, () -> jobs.payload(2));
  }

  @Test
  void isUnmodifiableAndChecksItsIndex() {
    NewJobs jobs = new NewJobs(List.of("a"));
    NewJob extra = new NewJob(JobId.random(), "b");

    assertThrows(UnsupportedOperationException.class, () -> jobs.add(extra));
    assertThrows(IndexOutOfBoundsException.class, () -> jobs.get(1));
    assertThrows(IndexOutOfBoundsException.class, () -> jobs.get(-1));
  }
}
