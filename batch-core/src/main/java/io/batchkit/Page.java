package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.util.List;

/**
 * One page of a query's results.
 *
 * @param items the items on this page, unmodifiable
 * @param offset how many items were skipped before this page
 * @param limit the page size asked for
 * @param hasMore whether items follow this page
 * @param <T> the item type
 */
public record Page<T>(List<T> items, int offset, int limit, boolean hasMore) {
  /**
   * Creates a page; copies {@code items}.
   *
   * @throws NullPointerException if {@code items} or one of them is null
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is not positive
   */
  public Page {
    items = List.copyOf(Checks.notNull(items, "items"));
    Checks.notNegative(offset, "offset");
    Checks.positive(limit, "limit");
  }

  /** Returns the offset of the next page: {@code offset + items().size()}. */
  public int nextOffset() {
    return offset + items.size();
  }
}
