package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Selects jobs: optionally by status, one page at a time. Within one batch ({@link
 * BatchService#getJobs}) in creation order, by status only. Across batches ({@link
 * BatchService#listJobs}), latest created first, also by the batch's job type and metadata and by
 * when the job finished: the dead-letter view of an operator.
 *
 * <pre>{@code
 * Page<Job> failed = service.getJobs(batchId, JobQuery.withStatus(JobStatus.FAILED).page(0, 50));
 * Page<Job> deadLetters = service.listJobs(
 *     JobQuery.withStatus(JobStatus.FAILED)
 *         .metadata("tenant", "acme")
 *         .finishedBetween(startOfDay, Instant.now()));
 * }</pre>
 *
 * @param statuses the statuses to include; empty means all
 * @param offset how many matching jobs to skip
 * @param limit the most jobs to return, from 1 to {@value #MAX_LIMIT}
 * @param jobType only jobs of batches of this job type ({@code listJobs} only)
 * @param metadata only jobs of batches that have every one of these metadata entries ({@code
 *     listJobs} only)
 * @param finishedAfter only jobs that finished at or after this instant ({@code listJobs} only;
 *     kept to the microsecond)
 * @param finishedBefore only jobs that finished before this instant ({@code listJobs} only; kept to
 *     the microsecond)
 */
public record JobQuery(
    Set<JobStatus> statuses,
    int offset,
    int limit,
    Optional<String> jobType,
    Map<String, String> metadata,
    Optional<Instant> finishedAfter,
    Optional<Instant> finishedBefore) {
  /** The largest page size. */
  public static final int MAX_LIMIT = 10_000;

  /** The page size used when none is given. */
  public static final int DEFAULT_LIMIT = 100;

  /**
   * Creates a query; copies {@code statuses} and {@code metadata}.
   *
   * @throws NullPointerException if an argument, a status or a metadata key or value is null
   * @throws IllegalArgumentException if {@code offset} is negative, {@code limit} is out of range,
   *     the job type is blank, or {@code finishedBefore} is not after {@code finishedAfter}
   */
  public JobQuery {
    statuses = Set.copyOf(Checks.notNull(statuses, "statuses"));
    Checks.notNegative(offset, "offset");
    Checks.between(limit, 1, MAX_LIMIT, "limit");
    Checks.notNull(jobType, "jobType");
    jobType.ifPresent(t -> Checks.notBlank(t, "jobType"));
    Checks.notNull(metadata, "metadata");
    metadata.forEach(
        (key, value) -> {
          Checks.notNull(key, "metadata key");
          Checks.notNull(value, "metadata value");
        });
    metadata = Map.copyOf(metadata);
    // to the microsecond, the precision every store keeps, so that each store draws the same edge
    finishedAfter = Checks.notNull(finishedAfter, "finishedAfter").map(JobQuery::micros);
    finishedBefore = Checks.notNull(finishedBefore, "finishedBefore").map(JobQuery::micros);
    if (finishedAfter.isPresent()
        && finishedBefore.isPresent()
        && !finishedBefore.get().isAfter(finishedAfter.get())) {
      throw new IllegalArgumentException("finishedBefore must be after finishedAfter");
    }
  }

  /**
   * Creates a query by status and page only: the form of the record before the filters across
   * batches existed.
   *
   * @throws NullPointerException if {@code statuses} or one of them is null
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is out of range
   */
  public JobQuery(Set<JobStatus> statuses, int offset, int limit) {
    this(statuses, offset, limit, Optional.empty(), Map.of(), Optional.empty(), Optional.empty());
  }

  private static Instant micros(Instant t) {
    return t.truncatedTo(ChronoUnit.MICROS);
  }

  /** Returns the first {@value #DEFAULT_LIMIT} jobs, whatever their status. */
  public static JobQuery all() {
    return new JobQuery(Set.of(), 0, DEFAULT_LIMIT);
  }

  /**
   * Returns the first {@value #DEFAULT_LIMIT} jobs in one of the given statuses.
   *
   * @throws NullPointerException if a status is null
   * @throws IllegalArgumentException if no status is given
   */
  public static JobQuery withStatus(JobStatus first, JobStatus... more) {
    EnumSet<JobStatus> set = EnumSet.of(Checks.notNull(first, "status"));
    for (JobStatus s : Checks.notNull(more, "statuses")) {
      set.add(Checks.notNull(s, "status"));
    }
    return new JobQuery(set, 0, DEFAULT_LIMIT);
  }

  /**
   * Returns a copy that reads the page at {@code offset} of {@code limit} jobs.
   *
   * @throws IllegalArgumentException if {@code offset} is negative or {@code limit} is out of range
   */
  public JobQuery page(int offset, int limit) {
    return new JobQuery(statuses, offset, limit, jobType, metadata, finishedAfter, finishedBefore);
  }

  /**
   * Returns a copy that keeps only jobs of batches of {@code jobType} ({@code listJobs} only).
   *
   * @throws NullPointerException if {@code jobType} is null
   * @throws IllegalArgumentException if it is blank
   */
  public JobQuery jobType(String jobType) {
    return new JobQuery(
        statuses,
        offset,
        limit,
        Optional.of(Checks.notNull(jobType, "jobType")),
        metadata,
        finishedAfter,
        finishedBefore);
  }

  /**
   * Returns a copy that keeps only jobs of batches whose metadata has {@code key} set to {@code
   * value} (besides the entries already asked for; {@code listJobs} only).
   *
   * @throws NullPointerException if {@code key} or {@code value} is null
   */
  public JobQuery metadata(String key, String value) {
    Map<String, String> more = new LinkedHashMap<>(metadata);
    more.put(Checks.notNull(key, "metadata key"), Checks.notNull(value, "metadata value"));
    return new JobQuery(statuses, offset, limit, jobType, more, finishedAfter, finishedBefore);
  }

  /**
   * Returns a copy that keeps only jobs that finished at or after {@code after} and before {@code
   * before} ({@code listJobs} only): a failure time window with {@link JobStatus#FAILED}.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code before} is not after {@code after}
   */
  public JobQuery finishedBetween(Instant after, Instant before) {
    return new JobQuery(
        statuses,
        offset,
        limit,
        jobType,
        metadata,
        Optional.of(Checks.notNull(after, "after")),
        Optional.of(Checks.notNull(before, "before")));
  }

  /**
   * Returns whether a job in {@code status} matches.
   *
   * @throws NullPointerException if {@code status} is null and the query names statuses
   */
  public boolean matches(JobStatus status) {
    return statuses.isEmpty() || statuses.contains(status);
  }

  /**
   * Returns whether the query filters by more than status: by job type, metadata or finish time,
   * which only {@link BatchService#listJobs} takes.
   */
  public boolean filtersAcrossBatches() {
    return jobType.isPresent()
        || !metadata.isEmpty()
        || finishedAfter.isPresent()
        || finishedBefore.isPresent();
  }

  /**
   * Returns whether a job of {@code batch}, in {@code status}, finished at {@code finishedAt} (null
   * if it has not) matches every filter.
   *
   * @throws NullPointerException if {@code batch} is null
   */
  public boolean matches(Batch batch, JobStatus status, Instant finishedAt) {
    return matches(status)
        && jobType.map(t -> t.equals(batch.jobType())).orElse(true)
        && batch.metadata().entrySet().containsAll(metadata.entrySet())
        && finishedAfter.map(t -> finishedAt != null && !finishedAt.isBefore(t)).orElse(true)
        && finishedBefore.map(t -> finishedAt != null && finishedAt.isBefore(t)).orElse(true);
  }

  /** Shows the query with its metadata keys, not their values, as {@link Batch#toString()} does. */
  @Override
  public String toString() {
    return "JobQuery[statuses="
        + statuses
        + ", offset="
        + offset
        + ", limit="
        + limit
        + ", jobType="
        + jobType.orElse("-")
        + ", metadata="
        + metadata.keySet()
        + ", finishedAfter="
        + finishedAfter.map(Instant::toString).orElse("-")
        + ", finishedBefore="
        + finishedBefore.map(Instant::toString).orElse("-")
        + "]";
  }
}
