package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.JobStatus;
import io.batchkit.Priority;
import io.batchkit.Progress;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

/**
 * One row of the batches table, read inside a transaction and changed there: the counters and
 * status are mutable so that a step can apply its transitions and write the row back once.
 *
 * <p>Counters: each batch row keeps its count of jobs per status, changed in the same transaction
 * as the jobs, so reading a batch is one primary-key lookup whatever its size. They are read and
 * written under the row's lock: see {@link BatchReads}.
 *
 * <p>Jobs fetched ahead on PostgreSQL: a fetch ({@link PostgresSteps#fetch}) moves jobs from {@code
 * QUEUED} to {@code PROCESSING} without the batch row's lock, so that it waits for no other step:
 * it adds their number to its node's row of {@code <prefix>fetched}, which only that node's fetches
 * write and which only grows. The batch row's {@code absorbed} is how many of those fetched jobs
 * its {@code queued} and {@code processing} already show; the outcome statement, under the row's
 * lock, moves the rest over ({@code absorbed} becomes the sum of the node rows it read). So a
 * batch's counts are its row's, with the sum less {@code absorbed} (never below none: {@link
 * #fetchedAhead}) moved from queued to processing: {@link #select} reads them so. Every other step
 * changes the row's counters by what it did, so the two kinds of writes never undo each other, and
 * {@code pending} (queued and processing), which the final-status rule reads, is the row's own. H2
 * and MySQL fetch under the batch row's lock and have neither the table nor the column.
 */
final class BatchRow {
  static final String COLUMNS =
      "id, name, job_type, priority, metadata, max_concurrency, max_attempts, job_timeout_ms,"
          + " policy_max_failures, policy_max_ratio, idempotency_key, status, total, queued,"
          + " processing, succeeded, failed, cancelled, created_at, started_at, updated_at,"
          + " completed_at, slots_held, webhook_events";

  final UUID id;
  final String name;
  final String jobType;
  final Priority priority;
  final Map<String, String> metadata;
  final int maxConcurrency;
  final int maxAttempts;
  final Duration jobTimeout;
  final FailurePolicy failurePolicy;
  final String idempotencyKey;
  final Instant createdAt;
  BatchStatus status;
  final long[] counts = new long[JobStatus.values().length];
  final long total;

  /**
   * The jobs fetched ahead that this row's stored counters still show as queued: moved to
   * processing in {@link #counts}, and moved back when the row is written ({@link
   * BatchTransitions#writeBatches}).
   */
  final long fetchedAhead;

  /** The slots all nodes hold; read only: the steps that change it write it themselves. */
  final int slotsHeld;

  /** The events its webhooks are told of, as bits ({@code Webhooks.events}); 0 without any. */
  final int webhookEvents;

  Instant startedAt;
  Instant updatedAt;
  Instant completedAt;

  BatchRow(ResultSet rs, Dialect dialect) throws SQLException {
    id = dialect.getUuid(rs, "id");
    name = rs.getString("name");
    jobType = dialect.getKey(rs, "job_type");
    priority = Priority.values()[rs.getInt("priority")];
    metadata = MetadataCodec.decode(rs.getString("metadata"));
    maxConcurrency = rs.getInt("max_concurrency");
    maxAttempts = rs.getInt("max_attempts");
    jobTimeout = Duration.ofMillis(rs.getLong("job_timeout_ms"));
    failurePolicy =
        new FailurePolicy(rs.getInt("policy_max_failures"), rs.getDouble("policy_max_ratio"));
    idempotencyKey = dialect.getKey(rs, "idempotency_key");
    status = BatchStatus.valueOf(rs.getString("status"));
    total = rs.getLong("total");
    fetchedAhead = rs.getLong("fetched_ahead");
    counts[JobStatus.QUEUED.ordinal()] = rs.getLong("queued") - fetchedAhead;
    counts[JobStatus.PROCESSING.ordinal()] = rs.getLong("processing") + fetchedAhead;
    counts[JobStatus.SUCCEEDED.ordinal()] = rs.getLong("succeeded");
    counts[JobStatus.FAILED.ordinal()] = rs.getLong("failed");
    counts[JobStatus.CANCELLED.ordinal()] = rs.getLong("cancelled");
    createdAt = dialect.getInstant(rs, "created_at");
    startedAt = dialect.getInstant(rs, "started_at");
    updatedAt = dialect.getInstant(rs, "updated_at");
    completedAt = dialect.getInstant(rs, "completed_at");
    slotsHeld = rs.getInt("slots_held");
    webhookEvents = rs.getInt("webhook_events");
  }

  /**
   * The select list that {@link #BatchRow(ResultSet, Dialect)} reads: the stored columns, each
   * qualified with {@code qualifier} (the batches table's name or alias), and the jobs fetched
   * ahead that they do not show yet.
   */
  static String select(Tables tables, String qualifier) {
    StringBuilder out = new StringBuilder();
    for (String column : COLUMNS.split(",")) {
      out.append(qualifier).append('.').append(column.trim()).append(", ");
    }
    return out.append(fetchedAhead(tables, qualifier)).append(" AS fetched_ahead").toString();
  }

  /**
   * The SQL expression of a batch's jobs fetched ahead that its stored counters do not show yet
   * ({@code qualifier} names the batches table or its alias): what {@code queued} less it and
   * {@code processing} plus it make exact. 0 where fetches hold the batch row's lock.
   */
  static String fetchedAhead(Tables tables, String qualifier) {
    if (!tables.dialect.hasSingleStatementSteps()) {
      return "0";
    }
    return "GREATEST(0, COALESCE((SELECT sum(f.fetched) FROM %s f WHERE f.batch_id = %s.id), 0) - %s.absorbed)"
        .formatted(tables.fetched, qualifier, qualifier);
  }

  long count(JobStatus status) {
    return counts[status.ordinal()];
  }

  /** Whether a count is below none: a view that must be read again (see {@link Outcomes}). */
  boolean hasNegativeCount() {
    for (long n : counts) {
      if (n < 0) {
        return true;
      }
    }
    return false;
  }

  void move(JobStatus from, JobStatus to, long n) {
    counts[from.ordinal()] -= n;
    counts[to.ordinal()] += n;
  }

  Progress progress() {
    return new Progress(total, counts[0], counts[1], counts[2], counts[3], counts[4]);
  }

  Batch toBatch() {
    return new Batch(
        new BatchId(id),
        name,
        jobType,
        priority,
        metadata,
        maxConcurrency,
        maxAttempts,
        jobTimeout,
        failurePolicy,
        Optional.ofNullable(idempotencyKey),
        status,
        progress(),
        createdAt,
        Optional.ofNullable(startedAt),
        updatedAt,
        Optional.ofNullable(completedAt),
        Optional.empty());
  }
}
