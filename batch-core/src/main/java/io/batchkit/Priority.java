package io.batchkit;

/**
 * How urgently a batch's jobs should run compared with other batches. Higher priorities are served
 * first; a batch that waits ages towards higher priorities, so {@link #LOW} is never starved.
 */
public enum Priority {
  /** Runs before everything else. */
  URGENT,
  /** Runs before {@link #NORMAL} work. */
  HIGH,
  /** The default. */
  NORMAL,
  /** Runs when nothing more urgent waits, or once it has waited long enough. */
  LOW;

  /** Returns 0 for {@link #URGENT} up to 3 for {@link #LOW}: lower ranks run first. */
  public int rank() {
    return ordinal();
  }
}
