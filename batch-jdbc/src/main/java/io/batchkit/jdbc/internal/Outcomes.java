package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobStatus;
import io.batchkit.internal.util.AttemptRecords;
import io.batchkit.internal.util.BatchEvents;
import io.batchkit.spi.BatchStatusRule;
import io.batchkit.spi.ClaimRequest;
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

  /** The one-statement recording of outcomes, or null where the dialect has none. */
  private final PostgresSteps steps;

  private final BatchEventLog events;
  private final WebhookOutbox webhooks;

  /** The attempts the job rows will not show ({@link io.batchkit.internal.util.AttemptRecords}). */
  final AttemptLog attempts;

  private final Slots slots;

  Outcomes(
      Tables tables,
      BatchReads reads,
      BatchTransitions batchTransitions,
      WorkNotifier notifier,
      PostgresSteps steps,
      Slots slots) {
    this.slots = slots;
    this.tables = tables;
    this.dialect = tables.dialect;
    this.reads = reads;
    this.batchTransitions = batchTransitions;
    this.notifier = notifier;
    this.steps = steps;
    this.events = new BatchEventLog(tables);
    this.webhooks = new WebhookOutbox(tables);
    this.attempts = new AttemptLog(tables);
  }

  /** A job row locked for a transition. */
  static final class JobLock {
    final UUID batchId;
    String status;
    final long token;
    final int attempt;
    final String owner;
    final Instant startedAt;

    JobLock(UUID batchId, String status, long token, int attempt, String owner, Instant startedAt) {
      this.batchId = batchId;
      this.status = status;
      this.token = token;
      this.attempt = attempt;
      this.owner = owner;
      this.startedAt = startedAt;
    }

    /** The attempt this locked job is ending, for {@link AttemptLog}. */
    AttemptLog.Entry ending(UUID jobId, Instant started, JobAttempt.Outcome outcome, String error) {
      return new AttemptLog.Entry(jobId, batchId, token, attempt, owner, started, outcome, error);
    }
  }

  /**
   * Records outcomes as {@link io.batchkit.spi.JobStore#complete} says, as the only step of the
   * open transaction, which it may roll back and begin again: the caller must not have written
   * anything in it, or that would be lost. On PostgreSQL, outcomes of one batch none of which gives
   * a slot back (the common case on a busy node: each job's slot passes to a job fetched ahead) are
   * first recorded without locking their batch row up front ({@link PostgresSteps#complete}), so
   * that several nodes' outcome statements do not wait for each other; if the batch's status
   * changed meanwhile, the transaction is rolled back and they are recorded again with the lock.
   */
  CompletionResult completeAlone(Connection c, List<JobOutcome> outcomes, Instant now)
      throws SQLException {
    if (steps != null
        && PostgresSteps.mayBeOptimistic(outcomes, null)
        && hasNoDuplicateJobs(outcomes)) {
      PostgresSteps.Completed done =
          steps.complete(c, dialect, outcomes, null, List.of(), now, true);
      if (!done.stale()) {
        return settleOneStatement(c, outcomes, done, now);
      }
      c.rollback(); // judged by a status that has changed: again, holding the batch rows first
    }
    return completeIn(c, outcomes, now, null, List.of());
  }

  /**
   * Records outcomes in the open transaction, as {@link io.batchkit.spi.JobStore#complete} says.
   *
   * @param claim the claim that follows in the same transaction, or null: on PostgreSQL its
   *     candidate batches are locked together with the outcomes' batches, in one id-ordered pass,
   *     so that two nodes' rounds never lock the same rows in opposite orders
   * @param types the job types {@code claim} may take, sorted (ignored without a claim)
   */
  CompletionResult completeIn(
      Connection c, List<JobOutcome> outcomes, Instant now, ClaimRequest claim, List<String> types)
      throws SQLException {
    if (steps != null && hasNoDuplicateJobs(outcomes)) {
      return settleOneStatement(
          c, outcomes, steps.complete(c, dialect, outcomes, claim, types, now, false), now);
    }
    Set<UUID> batchIds = new TreeSet<>();
    Set<UUID> jobIds = new TreeSet<>();
    for (JobOutcome o : outcomes) {
      batchIds.add(o.batchId().value());
      jobIds.add(o.jobId().value());
    }
    Map<UUID, BatchRow> rows = reads.lockBatches(c, batchIds);
    Map<UUID, JobLock> locked = lockJobs(c, jobIds, null, List.of());
    Set<JobId> rejected = new HashSet<>();
    Transitions transitions = new Transitions(now);
    Map<UUID, BatchRow> touched = new LinkedHashMap<>();
    Map<String, Map<UUID, Integer>> released = new HashMap<>(); // node to batch to slots
    List<AttemptLog.Entry> ended = new ArrayList<>();
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
      JobOutcome.Kind kind =
          AttemptRecords.effectiveKind(
              o.kind(), row.status.isFinal(), job.attempt, row.maxAttempts);
      UUID id = o.jobId().value();
      Instant started = AttemptRecords.start(o, job.startedAt);
      JobAttempt.Outcome recorded = AttemptRecords.recorded(kind, o);
      if (recorded != null) {
        ended.add(job.ending(id, started, recorded, AttemptRecords.error(recorded, o)));
      }
      switch (kind) {
        case SUCCEEDED -> transitions.succeeded(id, o.result().orElse(null), started);
        case FAILED -> transitions.failed(id, o.error().orElse(null), started);
        case CANCELLED -> transitions.cancelled(id, started);
        case RETRY ->
            transitions.retry(id, o.error().orElse(null), o.retryAt().orElseThrow(), started);
        case RELEASED -> transitions.released(id, started);
      }
      row.move(JobStatus.PROCESSING, target(kind), 1);
      requeued |= kind == JobOutcome.Kind.RETRY || kind == JobOutcome.Kind.RELEASED;
      job.status = target(kind).name();
      touched.put(row.id, row);
      if (o.releasesSlot()) {
        released.computeIfAbsent(job.owner, n -> new HashMap<>()).merge(row.id, 1, Integer::sum);
      }
    }
    attempts.record(c, ended, now);
    transitions.execute(c);
    for (Map.Entry<String, Map<UUID, Integer>> e : released.entrySet()) {
      slots.release(c, e.getKey(), e.getValue());
    }
    List<Batch> snapshots = settle(c, touched.values(), now);
    if (requeued) {
      notifier.notifyWork(c);
    }
    return new CompletionResult(rejected, snapshots);
  }

  /**
   * The one-statement form, once the statement ({@link PostgresSteps#complete}) moved the jobs and
   * added to the counters: the batch rules are applied here to the rows it returns, and only the
   * rows whose status they change are written again.
   */
  private CompletionResult settleOneStatement(
      Connection c, List<JobOutcome> outcomes, PostgresSteps.Completed done, Instant now)
      throws SQLException {
    Set<JobId> rejected = new HashSet<>();
    boolean requeued = false;
    for (JobOutcome o : outcomes) {
      if (!done.accepted().contains(o.jobId().value())) {
        rejected.add(o.jobId());
      } else if (o.kind() == JobOutcome.Kind.RETRY || o.kind() == JobOutcome.Kind.RELEASED) {
        requeued = true; // a hint: it may have been cancelled instead, if its batch was final
      }
    }
    List<BatchRow> rows = new ArrayList<>();
    for (BatchRow row : done.rows().values()) {
      // the statement reads the jobs fetched ahead as of its start and a batch row as of its lock:
      // jobs fetched after that start show as queued in the row it returns (a snapshot for
      // listeners, a moment behind), and if a step that holds the row in between (the reaper, lease
      // expiry, outcomes that repeat a job) ended some of them, a count falls below none: then it
      // is read again, under the lock this transaction holds (see BatchRow)
      rows.add(row.hasNegativeCount() ? reads.readBatch(c, row.id, false) : row);
    }
    List<BatchRow> changed = new ArrayList<>();
    List<Batch> snapshots = new ArrayList<>();
    for (BatchRow row : rows) {
      if (applyRules(c, row, now)) {
        changed.add(row);
      }
      snapshots.add(row.toBatch());
    }
    batchTransitions.writeBatches(c, changed);
    announceFinished(c, rows, now);
    if (requeued) {
      notifier.notifyWork(c);
    }
    return new CompletionResult(rejected, snapshots);
  }

  /**
   * Whether every outcome is for another job. Two outcomes for one job are rare (a caller's
   * mistake) and take the portable steps, which judge them one after the other as the contract
   * says.
   */
  private static boolean hasNoDuplicateJobs(List<JobOutcome> outcomes) {
    Set<JobId> seen = new HashSet<>();
    for (JobOutcome o : outcomes) {
      if (!seen.add(o.jobId())) {
        return false;
      }
    }
    return true;
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

    // each sets the attempt's start: the one its node reported, or the claim's it had

    void succeeded(UUID id, String result, Instant started) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'SUCCEEDED', result = ?, error = NULL,"
              + " lease_until = NULL, started_at = ?, finished_at = ?, updated_at = ? WHERE id = ?",
          result,
          started,
          now,
          now,
          id);
    }

    void failed(UUID id, String error, Instant started) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'FAILED', error = ?, lease_until = NULL,"
              + " started_at = ?, finished_at = ?, updated_at = ? WHERE id = ?",
          error,
          started,
          now,
          now,
          id);
    }

    /** {@code started} null: the job never started in this claim, and shows no start. */
    void cancelled(UUID id, Instant started) {
      String sql =
          "UPDATE "
              + tables.jobs
              + " SET status = 'CANCELLED', lease_until = NULL, finished_at = ?, updated_at = ?, ";
      if (started == null) {
        add(sql + "started_at = NULL WHERE id = ?", now, now, id);
      } else {
        add(sql + "started_at = ? WHERE id = ?", now, now, started, id);
      }
    }

    void retry(UUID id, String error, Instant at, Instant started) {
      add(
          "UPDATE "
              + tables.jobs
              + " SET status = 'QUEUED', error = ?, lease_until = NULL, run_at = ?,"
              + " started_at = ?, updated_at = ? WHERE id = ?",
          error,
          at,
          started,
          now,
          id);
    }

    /** {@code started} null: the job never started in this claim, and shows no start. */
    void released(UUID id, Instant started) {
      String sql =
          "UPDATE "
              + tables.jobs
              + " SET status = 'QUEUED', attempt = attempt - 1, lease_until = NULL,"
              + " run_at = ?, updated_at = ?, ";
      if (started == null) {
        add(sql + "started_at = NULL WHERE id = ?", now, now, id);
      } else {
        add(sql + "started_at = ? WHERE id = ?", now, now, started, id);
      }
    }

    void expiredRetry(UUID id, String error, Instant started) {
      retry(id, error, now, started); // due at once
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
   * Locks job rows by id, in id order, after their batch rows (see {@link BatchReads}); with a
   * {@code condition} (SQL on the job row, its parameters in {@code args}), only those that meet it
   * now.
   */
  Map<UUID, JobLock> lockJobs(
      Connection c, Collection<UUID> ids, String condition, List<Object> args) throws SQLException {
    Map<UUID, JobLock> locked = new HashMap<>();
    tables.selectIn(
        c,
        Tables.inStoreOrder(ids),
        "SELECT id, batch_id, status, fencing_token, attempt, owner, started_at FROM "
            + tables.jobs
            + " WHERE id IN (",
        ")" + (condition == null ? "" : " AND " + condition) + " ORDER BY id FOR UPDATE",
        args,
        rs ->
            locked.put(
                dialect.getUuid(rs, "id"),
                new JobLock(
                    dialect.getUuid(rs, "batch_id"),
                    rs.getString("status"),
                    rs.getLong("fencing_token"),
                    rs.getInt("attempt"),
                    rs.getString("owner"),
                    dialect.getInstant(rs, "started_at"))));
    return locked;
  }

  /**
   * Applies the batch rules to batches whose jobs just changed (failure policy, then the final
   * status once nothing is pending), writes their rows, and returns their snapshots.
   */
  List<Batch> settle(Connection c, Collection<BatchRow> rows, Instant now) throws SQLException {
    List<Batch> snapshots = new ArrayList<>();
    for (BatchRow row : rows) {
      applyRules(c, row, now);
      snapshots.add(row.toBatch());
    }
    batchTransitions.writeBatches(c, rows);
    announceFinished(c, rows, now);
    return snapshots;
  }

  /**
   * Applies the batch rules to one row whose jobs just changed: a tripped failure policy cancels
   * the queued jobs and ends the batch, and a batch with nothing pending gets its final status.
   * Returns whether the status changed.
   */
  private boolean applyRules(Connection c, BatchRow row, Instant now) throws SQLException {
    row.updatedAt = now;
    if (row.status != BatchStatus.PROCESSING) {
      return false;
    }
    if (row.failurePolicy.isTripped(row.progress())) {
      events.record(
          c,
          BatchEvents.policyTripped(new BatchId(row.id), now, row.progress(), row.failurePolicy));
      batchTransitions.cancelQueued(c, row, now);
      row.status = BatchStatusRule.finalStatus(row.progress(), false, true);
      row.completedAt = now;
      return true;
    }
    if (row.progress().pending() == 0) {
      row.status = BatchStatusRule.finalStatus(row.progress(), false, false);
      row.completedAt = now;
      return true;
    }
    return false;
  }

  /**
   * Records and announces the batches among {@code rows} that are finished now: a step that ends a
   * job cannot touch a batch that was finished before it, so each finished here.
   */
  private void announceFinished(Connection c, Collection<BatchRow> rows, Instant now)
      throws SQLException {
    List<BatchEvent> finished = new ArrayList<>();
    List<BatchRow> finishedRows = new ArrayList<>();
    for (BatchRow row : rows) {
      if (row.status.isFinal() && row.progress().pending() == 0) {
        finished.add(BatchEvents.finished(new BatchId(row.id), now, row.status, row.progress()));
        finishedRows.add(row);
        notifier.notifyFinished(c, row.id);
      }
    }
    events.record(c, finished);
    for (int i = 0; i < finished.size(); i++) {
      BatchRow row = finishedRows.get(i);
      if (row.webhookEvents != 0) {
        webhooks.enqueue(c, finished.get(i), row.toBatch(), row.webhookEvents);
      }
    }
  }
}
