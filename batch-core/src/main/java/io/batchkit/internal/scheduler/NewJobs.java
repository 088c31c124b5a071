package io.batchkit.internal.scheduler;

import io.batchkit.JobId;
import io.batchkit.internal.util.Ids;
import io.batchkit.spi.NewJob;
import java.util.AbstractList;
import java.util.List;
import java.util.Objects;
import java.util.RandomAccess;
import java.util.UUID;

/**
 * The new jobs of a batch request, one per item in order, as the store receives them: an
 * unmodifiable view that makes each {@link NewJob} when it is read, so that a large batch is not
 * held twice (once as the request's items, once as jobs) while the store takes it in. The ids are a
 * run of consecutive time-ordered UUIDs ({@link Ids#nextRun}), fixed when the list is made: every
 * read of the same index gives the same id, so a store may read the list more than once (to check
 * it, or again on a retried transaction).
 */
final class NewJobs extends AbstractList<NewJob> implements RandomAccess {
  private final List<String> payloads;
  private final long high;
  private final long firstLow;

  /**
   * @param payloads the request's items, a list with fast access by index that nobody changes
   */
  NewJobs(List<String> payloads) {
    this.payloads = payloads;
    UUID first = Ids.nextRun(Math.max(1, payloads.size()));
    this.high = first.getMostSignificantBits();
    this.firstLow = first.getLeastSignificantBits();
  }

  @Override
  public NewJob get(int index) {
    Objects.checkIndex(index, payloads.size());
    return new NewJob(new JobId(new UUID(high, firstLow + index)), payloads.get(index));
  }

  @Override
  public int size() {
    return payloads.size();
  }
}
