package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.JobStatus;
import io.batchkit.spi.BatchStatusRule;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.JobOutcome;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Records what became of running jobs: locks their batch rows and job rows, checks each outcome's
 * fencing token, moves the jobs to their next status in grouped statements ({@link Transitions}),
 * and settles their batches ({@link #settle}: failure policy, final status, counters). Exists so
 * that every way a running job ends, here or in {@link Leases}, goes through the same steps.
 */
final class Outcomes {
  private final Tables tables;
  private final Dialect dialect;
  private final BatchReads reads;
  private final BatchTransitions batchTransitions;
  private final WorkNotifier notifier;

  Outcomes(
      Tables tables, BatchReads reads, BatchTransitions batchTransitions, WorkNotifier notifier) {
    this.tables = tables;
    this.dialect = tables.dialect;
    this.reads = reads;
    this.batchTransitions = batchTransitions;
    this.notifier = notifier;
  }

  /** A job row locked for a transition. */
  static final class JobLock {
    final UUID batchId;
    String status;
    final long token;
    final int attempt;
    final String owner;

    JobLock(UUID batchId, String status, long token, int attempt, String owner) {
      this.batchId = batchId;
      this.status = status;
      this.token = token;
      this.attempt = attempt;
      this.owner = owner;
    }
  }

  CompletionResult completeIn(Connection c, List<JobOutcome> outcomes, Instant now)
      throws SQLException {
    Set<UUID> batchIds = new TreeSet<>();
    Set<UUID> jobIds = new TreeSet<>();
    for (JobOutcome o : outcomes) {
      batchIds.add(o.batchId().value());
      jobIds.add(o.jobId().value());
    }
    Map<UUID, BatchRow> rows = reads.lockBatches(c, batchIds);
    Map<UUID, JobLock> locked = lockJobs(c, jobIds, null);
    Set<JobId> rejected = new HashSet<>();
    Transitions transitions = new Transitions(now);
    Map<UUID, BatchRow> touched = new LinkedHashMap<>();
    boolean requeued = false;
    for (JobOutcome o : outcomes) {
      JobLock job = locked.get(o.jobId().value());
      BatchRow row = job == null ? null : rows.get(job.batchId);
      if (job == null
          || row == null
          || !"PROCESSING".equals(job.status)
          || job.token != o.fencingToken()) {
        rejected.add(o.jobId());
        continue;
      }
      JobOutcome.Kind kind = row.status.isFinal() ? JobOutcome.Kind.CANCELLED : o.kind();
      UUID id = o.jobId().value();
      switch (kind) {
        case SUCCEEDED -> transitions.succeeded(id, o.result().orElse(null));
        case FAILED -> transitions.failed(id, o.error().orElse(null));
        case CANCELLED -> transitions.cancelled(id);
        case RETRY -> transitions.retry(id, o.error().orElse(null), o.retryAt().orElseThrow());
        case RELEASED -> transitions.released(id);
      }
      row.move(JobStatus.PROCESSING, target(kind), 1);
      requeued |= kind == JobOutcome.Kind.RETRY || kind == JobOutcome.Kind.RELEASED;
      job.status = target(kind).name();
      touched.put(row.id, row);
    }
    transitions.execute(c);
    List<Batch> snapshots = settle(c, touched.values(), now);
    if (requeued) {
      notifier.notifyWork(c);
    }
    return new CompletionResult(rejected, snapshots);
  }

  private static JobStatus target(JobOutcome.Kind kind) {
    return switch (kind) {
      case SUCCEEDED -> JobStatus.SUCCEEDED;
      case FAILED -> JobStatus.FAILED;
      case CANCELLED -> JobStatus.CANCELLED;
      case RETRY, RELEASED -> JobStatus.QUEUED;
    };
  }

  /** Starts the job updates of one step that ends running jobs, for {@link Leases}. */
  Transitions transitions(Instant now) {
    return new Transitions(now);
  }

  /** Collects job updates by kind, then runs each kind as one JDBC batch. */
  final class Transitions {
    private final Instant now;
    private final Map<String, List<Object[]>> byStatement = new LinkedHashMap<>();

    Transitions(Instant now) {
      this.now = now;
    }

    private void add(String sql, Object... args) {
      byStatement.computeIfAbsent(sql, k -> new ArrayList<>()).add(args);
    }

    void succeeded(UUID id, String result) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'SUCCEEDED', result = ?, error = NULL,"
              + " lease_until = NULL, finished_at = ?, updated_at = ? WHERE id = ?",
          result,
          now,
          now,
          id);
    }

    void failed(UUID id, String error) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'FAILED', error = ?, lease_until = NULL,"
              + " finished_at = ?, updated_at = ? WHERE id = ?",
          error,
          now,
          now,
          id);
    }

    void cancelled(UUID id) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'CANCELLED', lease_until = NULL, finished_at = ?,"
              + " updated_at = ? WHERE id = ?",
          now,
          now,
          id);
    }

    void retry(UUID id, String error, Instant at) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'QUEUED', error = ?, lease_until = NULL, run_at = ?,"
              + " updated_at = ? WHERE id = ?",
          error,
          at,
          now,
          id);
    }

    void released(UUID id) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'QUEUED', attempt = attempt - 1, lease_until = NULL,"
              + " run_at = ?, updated_at = ? WHERE id = ?",
          now,
          now,
          id);
    }

    void expiredRetry(UUID id, String error) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'QUEUED', error = ?, lease_until = NULL, run_at = ?,"
              + " updated_at = ? WHERE id = ?",
          error,
          now,
          now,
          id);
    }

    void execute(Connection c) throws SQLException {
      for (Map.Entry<String, List<Object[]>> entry : byStatement.entrySet()) {
        try (PreparedStatement ps = c.prepareStatement(entry.getKey())) {
          for (Object[] args : entry.getValue()) {
            tables.bindAll(ps, args);
            ps.addBatch();
          }
          ps.executeBatch();
        }
      }
    }
  }

  /**
   * Locks job rows by id, in id order, after their batch rows (see {@link BatchReads}); with {@code
   * expiredBefore}, only expired running ones.
   */
  Map<UUID, JobLock> lockJobs(Connection c, Collection<UUID> ids, Instant expiredBefore)
      throws SQLException {
    Map<UUID, JobLock> locked = new HashMap<>();
    tables.selectIn(
        c,
        new ArrayList<>(new TreeSet<>(ids)),
        "SELECT id, batch_id, status, fencing_token, attempt, owner FROM "
            + tables.jobs
            + " WHERE id IN (",
        ")"
            + (expiredBefore == null ? "" : " AND status = 'PROCESSING' AND lease_until < ?")
            + " ORDER BY id FOR UPDATE",
        expiredBefore == null ? List.of() : List.of(expiredBefore),
        rs ->
            locked.put(
                dialect.getUuid(rs, "id"),
                new JobLock(
                    dialect.getUuid(rs, "batch_id"),
                    rs.getString("status"),
                    rs.getLong("fencing_token"),
                    rs.getInt("attempt"),
                    rs.getString("owner"))));
    return locked;
  }

  /**
   * Applies the batch rules to batches whose jobs just changed (failure policy, then the final
   * status once nothing is pending), writes their rows, and returns their snapshots.
   */
  List<Batch> settle(Connection c, Collection<BatchRow> rows, Instant now) throws SQLException {
    List<Batch> snapshots = new ArrayList<>();
    for (BatchRow row : rows) {
      row.updatedAt = now;
      if (row.status == BatchStatus.PROCESSING) {
        if (row.failurePolicy.isTripped(row.progress())) {
          batchTransitions.cancelQueued(c, row, now);
          row.status = BatchStatusRule.finalStatus(row.progress(), false, true);
          row.completedAt = now;
        } else if (row.progress().pending() == 0) {
          row.status = BatchStatusRule.finalStatus(row.progress(), false, false);
          row.completedAt = now;
        }
      }
      snapshots.add(row.toBatch());
    }
    batchTransitions.writeBatches(c, rows);
    return snapshots;
  }
}
