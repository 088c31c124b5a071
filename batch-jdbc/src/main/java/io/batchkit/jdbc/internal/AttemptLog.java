package io.batchkit.jdbc.internal;

import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobNotFoundException;
import io.batchkit.JobStatus;
import io.batchkit.internal.util.AttemptRecords;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

/**
 * Where the history of job attempts is written and read (the {@code job_attempts} table, see {@link
 * AttemptRecords} for which attempts get a row): each step that ends an attempt the job row will
 * not show writes its row on the same connection, in the same transaction, before it moves the job;
 * a job's final attempt is read from the job row. The one-statement outcomes of {@link
 * PostgresSteps} write theirs inside that statement, by the same rule. Holds no state but the table
 * names.
 */
final class AttemptLog {
  /** An attempt ending now, with what its locked job row said before the step moves it. */
  record Entry(
      UUID jobId,
      UUID batchId,
      long token,
      int attempt,
      String nodeId,
      Instant startedAt,
      JobAttempt.Outcome outcome,
      String error) {}

  /**
   * What a job row {@code j} needs to show its final attempt itself (see {@link AttemptRecords}),
   * besides a final status and no record with its token.
   */
  private static final String SHOWN_ROW =
      " j.attempt > 0 AND j.owner IS NOT NULL AND j.started_at IS NOT NULL"
          + " AND j.finished_at IS NOT NULL";

  /** {@link #SHOWN_ROW} and no record with the row's token. */
  private final String shownCondition;

  private final Tables tables;
  private final Dialect dialect;

  AttemptLog(Tables tables) {
    this.tables = tables;
    this.dialect = tables.dialect;
    this.shownCondition =
        SHOWN_ROW
            + " AND NOT EXISTS (SELECT 1 FROM "
            + tables.jobAttempts
            + " a WHERE a.job_id = j.id AND a.token = j.fencing_token)";
  }

  /** Writes the attempts in {@code entries}, all ended at {@code endedAt}. */
  void record(Connection c, List<Entry> entries, Instant endedAt) throws SQLException {
    if (entries.isEmpty()) {
      return;
    }
    String sql =
        "INSERT INTO "
            + tables.jobAttempts
            + " (job_id, token, batch_id, attempt, node_id, started_at, ended_at, outcome, error)"
            + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (Entry e : entries) {
        dialect.setUuid(ps, 1, e.jobId());
        ps.setLong(2, e.token());
        dialect.setUuid(ps, 3, e.batchId());
        ps.setInt(4, e.attempt());
        ps.setString(5, e.nodeId());
        dialect.setInstant(ps, 6, e.startedAt());
        dialect.setInstant(ps, 7, endedAt);
        ps.setString(8, e.outcome().name());
        ps.setString(9, e.error());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /**
   * Writes the final attempts that the failed jobs of a batch show, before {@code retryFailed}
   * queues them again and their rows stop showing them.
   */
  void keepFailedAttempts(Connection c, UUID batchId) throws SQLException {
    keepFailedAttempts(c, batchId, List.of());
  }

  /**
   * As {@link #keepFailedAttempts(Connection, UUID)}, for the jobs in {@code only} (all the batch's
   * failed jobs if it is empty), before {@code retryJobs} queues them again.
   */
  void keepFailedAttempts(Connection c, UUID batchId, List<UUID> only) throws SQLException {
    for (int from = 0; from < Math.max(1, only.size()); from += Tables.IN_LIST_LIMIT) {
      List<UUID> part = only.subList(from, Math.min(only.size(), from + Tables.IN_LIST_LIMIT));
      keepFailedAttemptsOf(c, batchId, part);
    }
  }

  private void keepFailedAttemptsOf(Connection c, UUID batchId, List<UUID> only)
      throws SQLException {
    String sql =
        "INSERT INTO "
            + tables.jobAttempts
            + " (job_id, token, batch_id, attempt, node_id, started_at, ended_at, outcome, error)"
            + " SELECT j.id, j.fencing_token, j.batch_id, j.attempt, j.owner, j.started_at,"
            + " j.finished_at, 'FAILED', j.error FROM "
            + tables.jobs
            + " j LEFT JOIN "
            + tables.jobAttempts
            + " a ON a.job_id = j.id AND a.token = j.fencing_token"
            + " WHERE j.batch_id = ? AND j.status = 'FAILED' AND a.job_id IS NULL AND"
            + SHOWN_ROW
            + (only.isEmpty() ? "" : " AND j.id IN (" + Tables.params(only.size()) + ")");
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setUuid(ps, 1, batchId);
      for (int i = 0; i < only.size(); i++) {
        dialect.setUuid(ps, i + 2, only.get(i));
      }
      ps.executeUpdate();
    }
  }

  /**
   * A job's ended attempts, oldest first: its rows by fencing token, then the final attempt its job
   * row shows, read in one statement with the job, so that a job deleted meanwhile is not found
   * rather than found without history.
   *
   * @throws JobNotFoundException if no job has this id
   */
  List<JobAttempt> list(Connection c, JobId id) throws SQLException {
    String sql =
        "SELECT 0 AS part, a.token, a.attempt, a.node_id, a.started_at, a.ended_at, a.outcome,"
            + " a.error FROM "
            + tables.jobs
            + " j LEFT JOIN "
            + tables.jobAttempts
            + " a ON a.job_id = j.id WHERE j.id = ?"
            + " UNION ALL SELECT 1 AS part, j.fencing_token, j.attempt, j.owner, j.started_at,"
            + " j.finished_at, j.status, j.error FROM "
            + tables.jobs
            + " j WHERE j.id = ? AND j.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND"
            + shownCondition
            + " ORDER BY 1, 2";
    List<JobAttempt> attempts = new ArrayList<>();
    boolean found = false;
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setUuid(ps, 1, id.value());
      dialect.setUuid(ps, 2, id.value());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found = true;
          String outcome = rs.getString(7);
          if (outcome == null) {
            continue; // the job, without a recorded attempt
          }
          JobAttempt.Outcome kind;
          String error = rs.getString(8);
          if (rs.getInt(1) == 0) {
            kind = JobAttempt.Outcome.valueOf(outcome);
          } else {
            kind = AttemptRecords.shownBy(JobStatus.valueOf(outcome));
            error = kind == JobAttempt.Outcome.FAILED ? error : null;
          }
          attempts.add(
              new JobAttempt(
                  id,
                  rs.getInt(3),
                  rs.getString(4),
                  dialect.getInstant(rs, "started_at"),
                  dialect.getInstant(rs, "ended_at"),
                  kind,
                  Optional.ofNullable(error)));
        }
      }
    }
    if (!found) {
      throw new JobNotFoundException(id);
    }
    return attempts;
  }

  /**
   * Deletes up to {@code maxRows} attempt rows that ended before {@code before}, then, in what the
   * limit leaves, batch events that happened before it; returns how many rows it deleted.
   */
  int purge(Connection c, Instant before, int maxRows) throws SQLException {
    // a record with its job's current token stands for the job's final attempt (the job row does
    // not show it): it stays as long as the job
    String attempts =
        "ended_at < ? AND NOT EXISTS (SELECT 1 FROM "
            + tables.jobs
            + " j WHERE j.id = "
            + tables.jobAttempts
            + ".job_id AND j.fencing_token = "
            + tables.jobAttempts
            + ".token)";
    int deleted =
        deleteBefore(c, tables.jobAttempts, attempts, "ended_at, job_id, token", before, maxRows);
    if (deleted < maxRows) {
      deleted +=
          deleteBefore(
              c,
              tables.batchEvents,
              "happened_at < ?",
              "happened_at, id",
              before,
              maxRows - deleted);
    }
    return deleted;
  }

  private int deleteBefore(
      Connection c, String table, String condition, String order, Instant before, int limit)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(dialect.deleteSome(table, condition, order))) {
      dialect.setInstant(ps, 1, before);
      ps.setInt(2, limit);
      return ps.executeUpdate();
    }
  }
}
