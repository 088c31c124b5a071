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
    counts[JobStatus.QUEUED.ordinal()] = rs.getLong("queued");
    counts[JobStatus.PROCESSING.ordinal()] = rs.getLong("processing");
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

  long count(JobStatus status) {
    return counts[status.ordinal()];
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
