package io.batchkit.internal.util;

import io.batchkit.JobId;
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
 *
 * <p>A store that knows this type may skip what the run makes needless: checking the ids for
 * duplicates (a run has none, see {@link StoreChecks}), finding out whether they are a run ({@link
 * #high}, {@link #firstLow}), and making a job's id only to read its payload ({@link #payload}).
 * Public only so that the stores' packages can see it; not part of the API.
 */
public final class NewJobs extends AbstractList<NewJob> implements RandomAccess {
  private final List<String> payloads;
  private final long high;
  private final long firstLow;

  /**
   * Makes the view and draws its run of ids. The items are not checked here: the service passes a
   * request's items, which {@code BatchRequest} has checked already.
   *
   * @param payloads the request's items, a list with fast access by index that nobody changes and
   *     that holds no null
   * @throws NullPointerException if {@code payloads} is null
   */
  public NewJobs(List<String> payloads) {
    this.payloads = payloads;
    UUID first = Ids.nextRun(Math.max(1, payloads.size()));
    this.high = first.getMostSignificantBits();
    this.firstLow = first.getLeastSignificantBits();
  }

  @Override
  public NewJob get(int index) {
    return new NewJob(new JobId(new UUID(high, firstLow + index)), payload(index));
  }

  /**
   * Returns the payload of the job at {@code index}, without making its id.
   *
   * @throws IndexOutOfBoundsException if {@code index} is not in the list
   */
  public String payload(int index) {
    Objects.checkIndex(index, payloads.size());
    return payloads.get(index);
  }

  /** Returns the high half that every id of the run has. */
  public long high() {
    return high;
  }

  /**
   * Returns the low half of the first job's id; the job at index {@code i} has it plus {@code i}.
   */
  public long firstLow() {
    return firstLow;
  }

  @Override
  public int size() {
    return payloads.size();
  }
}
