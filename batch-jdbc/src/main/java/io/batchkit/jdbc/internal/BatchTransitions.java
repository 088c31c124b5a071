package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.CancellationSummary;
import io.batchkit.JobId;
import io.batchkit.JobNotFoundException;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import io.batchkit.internal.util.BatchEvents;
import io.batchkit.internal.util.StoreChecks;
import io.batchkit.spi.BatchStatusRule;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.UUID;
import java.util.stream.Collectors;

/**
 * The steps a caller takes on a whole batch (start, cancel, retry the failed jobs, delete), and the
 * two writes they share with the job steps: moving all of a batch's jobs from one status to another
 * ({@link #moveAll}) and writing batch rows back with their counters ({@link #writeBatches}).
 * Exists so that the batch-level transitions are read in one place; {@link Outcomes} builds on it,
 * never the other way round.
 */
final class BatchTransitions {
  private final Tables tables;
  private final Dialect dialect;
  private final BatchReads reads;
  private final WorkNotifier notifier;
  private final BatchEventLog events;
  private final WebhookOutbox webhooks;
  private final AttemptLog attempts;

  BatchTransitions(Tables tables, BatchReads reads, WorkNotifier notifier) {
    this.tables = tables;
    this.events = new BatchEventLog(tables);
    this.webhooks = new WebhookOutbox(tables);
    this.attempts = new AttemptLog(tables);
    this.dialect = tables.dialect;
    this.reads = reads;
    this.notifier = notifier;
  }

  Batch startBatch(Connection c, BatchId id, Instant now) throws SQLException {
    BatchRow row = reads.lockBatch(c, id);
    StoreChecks.canStart(id, row.status);
    return start(c, row, id, now, BatchEvents.BY_CALL);
  }

  /** Whether a PENDING batch's scheduled start is not after {@code now}. */
  boolean anyDue(Connection c, Instant now) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(dueQuery() + " LIMIT 1")) {
      dialect.setInstant(ps, 1, now);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next();
      }
    }
  }

  private String dueQuery() {
    return "SELECT r.batch_id FROM "
        + tables.requests
        + " r JOIN "
        + tables.batches
        + " b ON b.id = r.batch_id WHERE r.start_at <= ? AND b.status = 'PENDING'";
  }

  /**
   * Forgets a batch's scheduled start once it cannot wait any more (started or cancelled), so that
   * the check every node makes every second reads only the waiting ones.
   */
  private void forgetSchedule(Connection c, BatchId id) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement(
            "UPDATE "
                + tables.requests
                + " SET start_at = NULL WHERE batch_id = ? AND start_at IS NOT NULL")) {
      dialect.setUuid(ps, 1, id.value());
      ps.executeUpdate();
    }
  }

  /**
   * Starts the PENDING batches whose scheduled start is not after {@code now}, up to {@code max};
   * one found started, cancelled or deleted meanwhile is left alone.
   */
  List<Batch> startDue(Connection c, Instant now, int max) throws SQLException {
    String find = dueQuery() + " ORDER BY r.start_at LIMIT ?";
    List<UUID> due = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(find)) {
      dialect.setInstant(ps, 1, now);
      ps.setInt(2, max);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          due.add(dialect.getUuid(rs, "batch_id"));
        }
      }
    }
    List<Batch> started = new ArrayList<>();
    for (BatchRow row : reads.lockBatches(c, due).values()) { // in id order
      if (row.status == BatchStatus.PENDING) {
        started.add(start(c, row, new BatchId(row.id), now, BatchEvents.AT_START_TIME));
      }
    }
    return started;
  }

  private Batch start(Connection c, BatchRow row, BatchId id, Instant now, String how)
      throws SQLException {
    forgetSchedule(c, id);
    BatchEvent started = BatchEvents.started(id, now, how);
    events.record(c, started);
    String sql =
        "UPDATE "
            + tables.batches
            + " SET status = 'PROCESSING', started_at = ?, updated_at = ?,"
            + " last_served_ms = ? WHERE id = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setInstant(ps, 1, now);
      dialect.setInstant(ps, 2, now);
      ps.setLong(3, now.toEpochMilli());
      dialect.setUuid(ps, 4, id.value());
      ps.executeUpdate();
    }
    notifier.notifyWork(c);
    row.status = BatchStatus.PROCESSING;
    row.startedAt = now;
    row.updatedAt = now;
    Batch batch = row.toBatch();
    webhooks.enqueue(c, started, batch, row.webhookEvents);
    return batch;
  }

  CancellationSummary cancelBatch(Connection c, BatchId id, Instant now) throws SQLException {
    BatchRow row = reads.lockBatch(c, id);
    StoreChecks.canCancel(id, row.status);
    if (row.status == BatchStatus.PENDING) {
      forgetSchedule(c, id);
    }
    long finished = row.progress().finished();
    long cancelled = cancelQueued(c, row, now);
    row.status = BatchStatusRule.finalStatus(row.progress(), true, false);
    row.completedAt = now;
    row.updatedAt = now;
    writeBatches(c, List.of(row));
    // read again: on PostgreSQL a node may have fetched queued jobs ahead while this step held the
    // batch row (see BatchRow), and they run now; the cancellation waited for their fetch to commit
    row = reads.readBatch(c, row.id, false);
    long running = row.count(JobStatus.PROCESSING);
    CancellationSummary summary = new CancellationSummary(id, cancelled, running, finished);
    List<BatchEvent> happened = new ArrayList<>(2);
    happened.add(BatchEvents.cancelled(summary, now));
    if (running == 0) {
      happened.add(BatchEvents.finished(id, now, row.status, row.progress()));
      notifier.notifyFinished(c, row.id); // nothing is left to end: this step finished the batch
    }
    events.record(c, happened);
    Batch batch = row.toBatch();
    for (BatchEvent event : happened) {
      webhooks.enqueue(c, event, batch, row.webhookEvents);
    }
    return summary;
  }

  long cancelQueued(Connection c, BatchRow row, Instant now) throws SQLException {
    return moveAll(c, row, JobStatus.QUEUED, JobStatus.CANCELLED, "finished_at = ?", now);
  }

  /**
   * Moves every job of a batch in status {@code from} to {@code to} in one statement and keeps the
   * row's counters in step. {@code set} holds the other assignments, with one {@code ?} for now.
   */
  private long moveAll(
      Connection c, BatchRow row, JobStatus from, JobStatus to, String set, Instant now)
      throws SQLException {
    String sql =
        "UPDATE "
            + tables.jobs
            + " SET status = '"
            + to.name()
            + "', "
            + set
            + ", updated_at = ?"
            + " WHERE batch_id = ? AND status = '"
            + from.name()
            + "'";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setInstant(ps, 1, now);
      dialect.setInstant(ps, 2, now);
      dialect.setUuid(ps, 3, row.id);
      long n = ps.executeUpdate();
      row.move(from, to, n);
      return n;
    }
  }

  Batch retryFailed(Connection c, BatchId id, Instant now) throws SQLException {
    BatchRow row = reads.lockBatch(c, id);
    Progress progress = row.progress();
    StoreChecks.canRetryFailed(id, row.status, progress);
    events.record(c, BatchEvents.failedRetried(id, now, progress.failed()));
    attempts.keepFailedAttempts(c, row.id); // their rows stop showing them

    moveAll(
        c,
        row,
        JobStatus.FAILED,
        JobStatus.QUEUED,
        "attempt = 0, finished_at = NULL, run_at = ?",
        now);
    row.status = BatchStatus.PROCESSING;
    row.completedAt = null;
    row.updatedAt = now;
    writeBatches(c, List.of(row));
    String served = "UPDATE " + tables.batches + " SET last_served_ms = ? WHERE id = ?";
    try (PreparedStatement ps = c.prepareStatement(served)) {
      ps.setLong(1, now.toEpochMilli());
      dialect.setUuid(ps, 2, row.id);
      ps.executeUpdate();
    }
    notifier.notifyWork(c);
    return row.toBatch();
  }

  /**
   * Queues failed jobs again, all or none (see {@code JobStore.retryJobs}): reads the jobs'
   * batches, locks those rows in id order, then reads the jobs' statuses, checks every job before
   * changing any, and reopens each batch as {@link #retryFailed} does. The job rows are read
   * without a lock: a failed job changes only in steps that hold its batch row first, as this one
   * does, and a lock on a running job's row (a caller's mistake, refused below) would wait for its
   * outcome, which on PostgreSQL may itself wait for the batch row held here (see {@link
   * PostgresSteps}). The jobs are queued again by one statement per batch (per {@value
   * Tables#IN_LIST_LIMIT} ids) that takes only failed rows, and the call is refused (rolled back)
   * unless it took every one: a check that holds as long as that rule does, and keeps the counters
   * exact should it ever break.
   */
  List<Batch> retryJobs(Connection c, Collection<JobId> ids, Instant now) throws SQLException {
    List<UUID> wanted =
        new ArrayList<>(new LinkedHashSet<>(ids.stream().map(JobId::value).toList()));
    List<UUID> sorted = Tables.inStoreOrder(wanted);
    Map<UUID, UUID> batchOf = new HashMap<>();
    tables.selectIn(
        c,
        sorted,
        "SELECT id, batch_id FROM " + tables.jobs + " WHERE id IN (",
        ")",
        List.of(),
        rs -> batchOf.put(dialect.getUuid(rs, "id"), dialect.getUuid(rs, "batch_id")));
    for (UUID id : wanted) {
      if (!batchOf.containsKey(id)) {
        throw new JobNotFoundException(new JobId(id));
      }
    }
    Map<UUID, BatchRow> rows = reads.lockBatches(c, new TreeSet<>(batchOf.values()));
    Map<UUID, String> status = new HashMap<>();
    tables.selectIn(
        c,
        sorted,
        "SELECT id, status FROM " + tables.jobs + " WHERE id IN (",
        ")",
        List.of(),
        rs -> status.put(dialect.getUuid(rs, "id"), rs.getString("status")));
    Map<UUID, List<UUID>> byBatch = new LinkedHashMap<>();
    for (UUID id : wanted) {
      BatchRow row = rows.get(batchOf.get(id));
      if (row == null || !status.containsKey(id)) {
        throw new JobNotFoundException(new JobId(id)); // deleted meanwhile
      }
      StoreChecks.canRetryJob(
          new JobId(id),
          JobStatus.valueOf(status.get(id)),
          new BatchId(row.id),
          row.status,
          row.progress());
      byBatch.computeIfAbsent(row.id, b -> new ArrayList<>()).add(id);
    }
    List<BatchRow> changed = new ArrayList<>();
    for (Map.Entry<UUID, List<UUID>> group : byBatch.entrySet()) {
      BatchRow row = rows.get(group.getKey());
      List<UUID> jobs = group.getValue();
      events.record(c, BatchEvents.failedRetried(new BatchId(row.id), now, jobs.size()));
      attempts.keepFailedAttempts(c, row.id, jobs); // their rows stop showing them
      String requeue =
          "UPDATE "
              + tables.jobs
              + " SET status = 'QUEUED', attempt = 0, finished_at = NULL, run_at = ?,"
              + " updated_at = ? WHERE status = 'FAILED' AND id IN (";
      long queued = tables.updateIn(c, List.of(now, now), requeue, Tables.inStoreOrder(jobs), ")");
      if (queued != jobs.size()) {
        // every job read FAILED above, and a failed job changes only under its batch row, held
        // here: should that rule ever break, the counters must not move for jobs that did not
        throw new IllegalStateException(
            (jobs.size() - queued)
                + " of the "
                + jobs.size()
                + " jobs of batch "
                + row.id
                + " to retry stopped being FAILED meanwhile; none was retried");
      }
      row.move(JobStatus.FAILED, JobStatus.QUEUED, jobs.size());
      row.status = BatchStatus.PROCESSING;
      row.completedAt = null;
      row.updatedAt = now;
      changed.add(row);
    }
    writeBatches(c, changed);
    String served = "UPDATE " + tables.batches + " SET last_served_ms = ? WHERE id = ?";
    try (PreparedStatement ps = c.prepareStatement(served)) {
      for (BatchRow row : changed) {
        ps.setLong(1, now.toEpochMilli());
        dialect.setUuid(ps, 2, row.id);
        ps.addBatch();
      }
      ps.executeBatch();
    }
    notifier.notifyWork(c);
    List<Batch> snapshots = new ArrayList<>();
    changed.forEach(row -> snapshots.add(row.toBatch()));
    return snapshots;
  }

  void deleteBatch(Connection c, BatchId id) throws SQLException {
    BatchRow row = reads.lockBatch(c, id);
    StoreChecks.canDelete(id, row.status, row.progress());
    for (String sql : deleteJobsSql(tables)) {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        dialect.setUuid(ps, 1, row.id);
        ps.executeUpdate();
      }
    }
    List<String> owned =
        new ArrayList<>(
            List.of(
                tables.metadata,
                tables.requests,
                tables.slots,
                // attempts before events, as purgeHistory deletes them, so that the two never wait
                // on each other across these tables (within job_attempts, see Dialect.deleteSome)
                tables.jobAttempts,
                tables.batchEvents,
                tables.batchWebhooks));
    if (dialect.hasSingleStatementSteps()) {
      owned.add(tables.fetched); // (see BatchRow)
    }
    for (String table : owned) {
      try (PreparedStatement ps =
          c.prepareStatement("DELETE FROM " + table + " WHERE batch_id = ?")) {
        dialect.setUuid(ps, 1, row.id);
        ps.executeUpdate();
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement("DELETE FROM " + tables.batches + " WHERE id = ?")) {
      dialect.setUuid(ps, 1, row.id);
      ps.executeUpdate();
    }
  }

  /**
   * The statements that delete a batch's jobs, whose one parameter is the batch's id: the jobs of
   * each status are found by their status's index, as no index holds a batch's jobs of every status
   * on PostgreSQL (its indexes on status are partial, see {@link BatchReads#listJobsStatement}).
   */
  static List<String> deleteJobsSql(Tables tables) {
    String head = "DELETE FROM " + tables.jobs + " WHERE batch_id = ? AND status ";
    String others =
        Arrays.stream(JobStatus.values())
            .filter(status -> status != JobStatus.PROCESSING)
            .map(status -> "'" + status.name() + "'")
            .collect(Collectors.joining(", "));
    return List.of(head + "IN (" + others + ")", head + "= 'PROCESSING'");
  }

  /** The events of a batch, oldest first; a BatchNotFoundException if it does not exist. */
  List<BatchEvent> events(Connection c, BatchId id) throws SQLException {
    return events.list(c, id);
  }

  /**
   * Writes batch rows back: status, counters and times. Lives here rather than in {@link Outcomes}
   * because {@link #cancelBatch} and {@link #retryFailed} write rows too, and {@link Outcomes}
   * needs {@link #cancelQueued}: one direction of use, not a cycle.
   */
  void writeBatches(Connection c, Collection<BatchRow> rows) throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    String sql =
        "UPDATE "
            + tables.batches
            + " SET status = ?, queued = ?, processing = ?, succeeded = ?,"
            + " failed = ?, cancelled = ?, updated_at = ?, completed_at = ? WHERE id = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (BatchRow row : rows) {
        ps.setString(1, row.status.name());
        // the stored counters do not show the jobs fetched ahead that the row's reader moved
        ps.setLong(2, row.count(JobStatus.QUEUED) + row.fetchedAhead);
        ps.setLong(3, row.count(JobStatus.PROCESSING) - row.fetchedAhead);
        ps.setLong(4, row.count(JobStatus.SUCCEEDED));
        ps.setLong(5, row.count(JobStatus.FAILED));
        ps.setLong(6, row.count(JobStatus.CANCELLED));
        dialect.setInstant(ps, 7, row.updatedAt);
        dialect.setInstant(ps, 8, row.completedAt);
        dialect.setUuid(ps, 9, row.id);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }
}
