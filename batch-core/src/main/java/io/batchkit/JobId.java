package io.batchkit;

import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.Ids;
import java.util.UUID;

/**
 * Identifies a job. Ids made by {@link #random()} are time-ordered (UUID version 7), so stores
 * index them as densely as a sequence.
 *
 * @param value the UUID, never null
 */
public record JobId(UUID value) implements Comparable<JobId> {
  /**
   * Creates an id.
   *
   * @throws NullPointerException if {@code value} is null
   */
  public JobId {
    Checks.notNull(value, "value");
  }

  /** Returns a new time-ordered id. */
  public static JobId random() {
    return new JobId(Ids.next());
  }

  /**
   * Parses the text form returned by {@link #toString()}.
   *
   * @throws NullPointerException if {@code text} is null
   * @throws IllegalArgumentException if {@code text} is blank or not a UUID
   */
  public static JobId parse(String text) {
    String trimmed = Checks.notBlank(text, "id").strip();
    try {
      return new JobId(UUID.fromString(trimmed));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("id must be a UUID, was '" + text + "'", e);
    }
  }

  @Override
  public int compareTo(JobId other) {
    return value.compareTo(other.value);
  }

  @Override
  public String toString() {
    return value.toString();
  }
}
