package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Selects batches, newest first. Every filter is optional; those given must all match.
 *
 * <pre>{@code
 * Page<Batch> running = service.listBatches(
 *     BatchQuery.builder().status(BatchStatus.PROCESSING).metadata("tenant", "acme").build());
 * }</pre>
 *
 * @param statuses the statuses to include; empty means all
 * @param jobType only batches of this job type
 * @param metadata only batches whose metadata holds all of these pairs
 * @param createdAfter only batches created at or after this instant
 * @param createdBefore only batches created before this instant
 * @param offset how many matching batches to skip
 * @param limit the most batches to return, from 1 to {@value JobQuery#MAX_LIMIT}
 */
public record BatchQuery(
    Set<BatchStatus> statuses,
    Optional<String> jobType,
    Map<String, String> metadata,
    Optional<Instant> createdAfter,
    Optional<Instant> createdBefore,
    int offset,
    int limit) {

  /**
   * Creates a query; copies the collections.
   *
   * @throws NullPointerException if any component is null
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is out of range
   */
  public BatchQuery {
    statuses = Set.copyOf(Checks.notNull(statuses, "statuses"));
    Checks.notNull(jobType, "jobType");
    metadata = Map.copyOf(Checks.notNull(metadata, "metadata"));
    Checks.notNull(createdAfter, "createdAfter");
    Checks.notNull(createdBefore, "createdBefore");
    Checks.notNegative(offset, "offset");
    Checks.between(limit, 1, JobQuery.MAX_LIMIT, "limit");
  }

  /** Returns the first {@value JobQuery#DEFAULT_LIMIT} batches, newest first. */
  public static BatchQuery all() {
    return builder().build();
  }

  /** Returns a builder with no filters. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Returns whether {@code batch} passes every filter (paging aside).
   *
   * @throws NullPointerException if {@code batch} is null
   */
  public boolean matches(Batch batch) {
    Checks.notNull(batch, "batch");
    return (statuses.isEmpty() || statuses.contains(batch.status()))
        && jobType.map(batch.jobType()::equals).orElse(true)
        && batch.metadata().entrySet().containsAll(metadata.entrySet())
        && createdAfter.map(t -> !batch.createdAt().isBefore(t)).orElse(true)
        && createdBefore.map(t -> batch.createdAt().isBefore(t)).orElse(true);
  }

  /** Builds a {@link BatchQuery}. Not thread-safe. */
  public static final class Builder {
    private final EnumSet<BatchStatus> statuses = EnumSet.noneOf(BatchStatus.class);
    private String jobType;
    private final java.util.LinkedHashMap<String, String> metadata =
        new java.util.LinkedHashMap<>();
    private Instant createdAfter;
    private Instant createdBefore;
    private int offset;
    private int limit = JobQuery.DEFAULT_LIMIT;

    private Builder() {}

    /**
     * Adds statuses to include (default: all).
     *
     * @throws NullPointerException if a status is null
     */
    public Builder status(BatchStatus... statuses) {
      for (BatchStatus s : Checks.notNull(statuses, "statuses")) {
        this.statuses.add(Checks.notNull(s, "status"));
      }
      return this;
    }

    /**
     * Keeps only batches of this job type.
     *
     * @throws NullPointerException if {@code jobType} is null
     * @throws IllegalArgumentException if it is blank
     */
    public Builder jobType(String jobType) {
      this.jobType = Checks.notBlank(jobType, "jobType");
      return this;
    }

    /**
     * Keeps only batches whose metadata maps {@code key} to {@code value}.
     *
     * @throws NullPointerException if {@code key} or {@code value} is null
     */
    public Builder metadata(String key, String value) {
      metadata.put(Checks.notNull(key, "key"), Checks.notNull(value, "value"));
      return this;
    }

    /**
     * Keeps only batches created at or after {@code instant}.
     *
     * @throws NullPointerException if {@code instant} is null
     */
    public Builder createdAfter(Instant instant) {
      this.createdAfter = Checks.notNull(instant, "createdAfter");
      return this;
    }

    /**
     * Keeps only batches created before {@code instant}.
     *
     * @throws NullPointerException if {@code instant} is null
     */
    public Builder createdBefore(Instant instant) {
      this.createdBefore = Checks.notNull(instant, "createdBefore");
      return this;
    }

    /**
     * Reads the page at {@code offset} of {@code limit} batches (default: 0 and {@value
     * JobQuery#DEFAULT_LIMIT}).
     *
     * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is out of
     *     range
     */
    public Builder page(int offset, int limit) {
      this.offset = Checks.notNegative(offset, "offset");
      this.limit = Checks.between(limit, 1, JobQuery.MAX_LIMIT, "limit");
      return this;
    }

    /** Returns the query. */
    public BatchQuery build() {
      return new BatchQuery(
          statuses,
          Optional.ofNullable(jobType),
          metadata,
          Optional.ofNullable(createdAfter),
          Optional.ofNullable(createdBefore),
          offset,
          limit);
    }
  }

  /** Shows the query with its metadata keys, not their values, as {@link Batch#toString()} does. */
  @Override
  public String toString() {
    return "BatchQuery[statuses="
        + statuses
        + ", jobType="
        + jobType.orElse("-")
        + ", metadata="
        + metadata.keySet()
        + ", createdAfter="
        + createdAfter.map(Instant::toString).orElse("-")
        + ", createdBefore="
        + createdBefore.map(Instant::toString).orElse("-")
        + ", offset="
        + offset
        + ", limit="
        + limit
        + "]";
  }
}
