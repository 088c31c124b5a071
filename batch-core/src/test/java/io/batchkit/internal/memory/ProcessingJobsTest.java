package io.batchkit.internal.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.ConcurrentModificationException;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link ProcessingJobs} holds exactly the jobs added and not removed, whatever the order. */
class ProcessingJobsTest {
  @Test
  void randomAddsAndRemoves_leaveExactlyTheJobsAddedAndNotRemoved() {
    List<JobState> jobs = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      jobs.add(new JobState(null, null, i, "p" + i)); // more than the first array holds
    }
    for (long seed = 1; seed <= 20; seed++) {
      Random random = new Random(seed);
      ProcessingJobs set = new ProcessingJobs();
      Set<JobState> expected = new HashSet<>();
      for (int step = 0; step < 5_000; step++) {
        JobState job = jobs.get(random.nextInt(jobs.size()));
        if (random.nextBoolean()) {
          set.add(job); // twice is once, as in a set
          expected.add(job);
        } else {
          set.remove(job); // a job not in it is left alone
          expected.remove(job);
        }
        if (step % 97 == 0) {
          assertEquals(expected, contents(set), "seed " + seed + ", step " + step);
        }
      }
      assertEquals(expected, contents(set), "seed " + seed);
      assertEquals(expected.size(), set.size(), "seed " + seed);
      for (JobState job : jobs) {
        set.remove(job);
      }
      assertEquals(0, set.size(), "seed " + seed);
      assertEquals(Set.of(), contents(set), "seed " + seed);
    }
  }

  @Test
  void anIterationTheSetChangedUnder_failsRatherThanSkipAJob() {
    ProcessingJobs set = new ProcessingJobs();
    JobState first = new JobState(null, null, 0, "a");
    set.add(first);
    set.add(new JobState(null, null, 1, "b"));
    Iterator<JobState> it = set.iterator();
    it.next();
    set.remove(first); // moves the second job into the first place, behind the iteration
    assertThrows(ConcurrentModificationException.class, it::hasNext);
  }

  private static Set<JobState> contents(ProcessingJobs set) {
    Set<JobState> out = new HashSet<>();
    int n = 0;
    for (JobState job : set) {
      out.add(job);
      n++;
    }
    assertEquals(out.size(), n, "a job iterated twice");
    return out;
  }
}
