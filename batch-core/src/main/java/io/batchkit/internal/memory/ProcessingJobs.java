package io.batchkit.internal.memory;

import java.util.Arrays;
import java.util.ConcurrentModificationException;
import java.util.Iterator;
import java.util.NoSuchElementException;

/**
 * Every job in status PROCESSING, for lease expiry: an array in which each job keeps its own place
 * ({@link JobState#processingAt}), so that a claim's add and an outcome's remove cost no hashing
 * and make no object (a hash set's add and remove were a tenth of the dispatcher's time on no-op
 * jobs). A removal moves the last job into the gap, so the order is not the order of adding.
 *
 * <p>Guarded by the store's lock, like the jobs it holds.
 */
final class ProcessingJobs implements Iterable<JobState> {
  private JobState[] jobs = new JobState[64];
  private int size;

  /** Counts changes, so that an iteration the set changed under fails rather than skip a job. */
  private int changes;

  /** Adds a job; nothing if it is in the set already. */
  void add(JobState job) {
    if (job.processingAt >= 0) {
      return;
    }
    if (size == jobs.length) {
      jobs = Arrays.copyOf(jobs, size * 2);
    }
    job.processingAt = size;
    jobs[size++] = job;
    changes++;
  }

  /** Removes a job; nothing if it is not in the set. */
  void remove(JobState job) {
    int at = job.processingAt;
    if (at < 0) {
      return;
    }
    JobState last = jobs[--size];
    jobs[at] = last;
    last.processingAt = at;
    jobs[size] = null;
    job.processingAt = -1;
    changes++;
  }

  int size() {
    return size;
  }

  /**
   * Iterates the jobs; the set must not change while it does.
   *
   * @throws ConcurrentModificationException from the iterator, if the set changed
   */
  @Override
  public Iterator<JobState> iterator() {
    int expected = changes;
    return new Iterator<>() {
      private int next;

      @Override
      public boolean hasNext() {
        if (changes != expected) {
          throw new ConcurrentModificationException(); // a removal may have moved a job behind
        }
        return next < size;
      }

      @Override
      public JobState next() {
        if (changes != expected) {
          throw new ConcurrentModificationException();
        }
        if (next >= size) {
          throw new NoSuchElementException();
        }
        return jobs[next++];
      }
    };
  }
}
