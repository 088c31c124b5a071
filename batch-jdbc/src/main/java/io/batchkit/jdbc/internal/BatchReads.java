package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchQuery;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobProgress;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Page;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Reads batches and jobs for the API (find, list, count), and reads and locks batch rows for the
 * steps that change them. Exists so that the queries live apart from the steps, and the batch-row
 * locks, which set the order the steps lock in, have one home.
 *
 * <p>Locking: a step that changes jobs first locks the rows of their batches ({@code SELECT ... FOR
 * UPDATE}, in id order: {@link #lockBatches}, {@link #lockBatch}), then the job rows (in id order:
 * {@link Outcomes#lockJobs}), so two steps never wait on each other in a cycle, and a batch's
 * counters are read and written under its row lock: that is what makes the per-batch concurrency
 * limit and the counters exact across nodes. Claims lock the same way: see {@link Claims}. Job rows
 * are read under their batch's row lock and then updated. PostgreSQL's outcome statement ({@link
 * PostgresSteps#complete}) updates its job rows in no set order, after their batch rows: any other
 * step that waits for a job row holds its batch's row already, so it waits there first. Its
 * optimistic form, for outcomes of one batch that give no slot back, locks the batch row last, when
 * it updates the counters, and then checks the status it judged by: the rare cycles this allows
 * PostgreSQL breaks, and the step runs again (see {@link PostgresSteps}). On PostgreSQL two steps
 * change jobs without the batch row: the fetch ahead ({@link PostgresSteps#fetch}), which takes
 * queued job rows with {@code SKIP LOCKED}, never waiting, and counts them apart (see {@link
 * BatchRow}); and the lease renewal ({@link Leases#heartbeat}), which passes over rows others hold
 * and then waits for each of those alone, holding no other row (elsewhere it takes the rows in id
 * order, as the other steps do).
 */
final class BatchReads {
  private final Tables tables;
  private final Dialect dialect;

  BatchReads(Tables tables) {
    this.tables = tables;
    this.dialect = tables.dialect;
  }

  Optional<BatchRow> findBatch(Connection c, BatchId id) throws SQLException {
    return Optional.ofNullable(readBatch(c, id.value(), false));
  }

  BatchRow readBatch(Connection c, UUID id, boolean lock) throws SQLException {
    return readBatch(c, id, lock ? " FOR UPDATE" : "");
  }

  /**
   * Reads one batch row, with {@code lockClause} (empty, or a {@code FOR UPDATE} clause). On
   * PostgreSQL a locking read locks first and reads in a second statement: a row locked after a
   * wait is its newest version, while the count of jobs fetched ahead beside it would be read as of
   * the statement's start (see {@link BatchRow}); the second statement sees everything committed
   * before the lock was granted.
   */
  private BatchRow readBatch(Connection c, UUID id, String lockClause) throws SQLException {
    if (!lockClause.isEmpty() && dialect.hasSingleStatementSteps()) {
      try (PreparedStatement ps =
          c.prepareStatement("SELECT id FROM " + tables.batches + " WHERE id = ?" + lockClause)) {
        dialect.setUuid(ps, 1, id);
        try (ResultSet rs = ps.executeQuery()) {
          if (!rs.next()) {
            return null;
          }
        }
      }
      lockClause = "";
    }
    String sql =
        "SELECT "
            + BatchRow.select(tables, tables.batches)
            + " FROM "
            + tables.batches
            + " WHERE id = ?"
            + lockClause;
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setUuid(ps, 1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? new BatchRow(rs, dialect) : null;
      }
    }
  }

  BatchRow lockBatch(Connection c, BatchId id) throws SQLException {
    BatchRow row = readBatch(c, id.value(), true);
    if (row == null) {
      throw new BatchNotFoundException(id);
    }
    return row;
  }

  /** The work of one {@code listBatches} call: the statement is built before it runs. */
  Transactions.Work<Page<Batch>> listBatches(BatchQuery query) {
    StringBuilder sql =
        new StringBuilder(
            "SELECT "
                + BatchRow.select(tables, "b")
                + " FROM "
                + tables.batches
                + " b WHERE 1 = 1");
    List<Object> args = new ArrayList<>();
    if (!query.statuses().isEmpty()) {
      sql.append(" AND status IN (").append(Tables.params(query.statuses().size())).append(')');
      query.statuses().stream().map(Enum::name).sorted().forEach(args::add);
    }
    query
        .jobType()
        .ifPresent(
            t -> {
              sql.append(" AND job_type = ?");
              args.add(new Tables.Key(t));
            });
    query
        .createdAfter()
        .ifPresent(
            t -> {
              sql.append(" AND created_at >= ?");
              args.add(t);
            });
    query
        .createdBefore()
        .ifPresent(
            t -> {
              sql.append(" AND created_at < ?");
              args.add(t);
            });
    for (Map.Entry<String, String> entry : new TreeMap<>(query.metadata()).entrySet()) {
      sql.append(" AND EXISTS (SELECT 1 FROM ")
          .append(tables.metadata)
          .append(" m WHERE m.batch_id = b.id AND m.meta_key = ? AND m.meta_value = ?)");
      args.add(new Tables.Key(entry.getKey()));
      args.add(new Tables.Key(entry.getValue()));
    }
    sql.append(" ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?");
    args.add(query.limit() + 1);
    args.add(query.offset());
    return c -> {
      try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
        tables.bind(ps, args);
        List<Batch> found = new ArrayList<>();
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            found.add(new BatchRow(rs, dialect).toBatch());
          }
        }
        boolean more = found.size() > query.limit();
        List<Batch> page = more ? found.subList(0, query.limit()) : found;
        return new Page<>(page, query.offset(), query.limit(), more);
      }
    };
  }

  /** The work of one {@code listJobs} call: the statement is built before it runs. */
  Transactions.Work<Page<Job>> listJobs(BatchId id, JobQuery query) {
    Statement statement = listJobsStatement(id, query);
    return c -> {
      if (readBatch(c, id.value(), false) == null) {
        throw new BatchNotFoundException(id);
      }
      return readJobs(c, statement.sql(), statement.args(), query);
    };
  }

  /** A statement's text with the arguments of its placeholders, in order. */
  record Statement(String sql, List<Object> args) {}

  /**
   * The statement of {@code listJobs} for one batch, with its arguments: one branch per status it
   * asks for (every status without a filter), each reading its status's index in seq order, merged
   * in seq order. No index holds a batch's jobs of every status in seq order: PostgreSQL's indexes
   * on status are partial (see its {@code V1__batchkit.sql}), and one more index on (batch, seq)
   * would be one more entry written by every claim and every outcome. Each status is a literal, not
   * a parameter, as a plan for any parameter value could not use a partial index.
   */
  Statement listJobsStatement(BatchId id, JobQuery query) {
    boolean every =
        query.statuses().isEmpty() || query.statuses().size() == JobStatus.values().length;
    List<JobStatus> statuses =
        every
            ? List.of(JobStatus.values())
            : query.statuses().stream().sorted().toList(); // one text per set of statuses
    List<Object> args = new ArrayList<>();
    List<String> branches = new ArrayList<>();
    for (JobStatus status : statuses) {
      StringBuilder branch =
          new StringBuilder("(SELECT ")
              .append(jobColumns(""))
              .append(", seq FROM ")
              .append(tables.jobs)
              .append(" WHERE batch_id = ? AND status = '")
              .append(status.name())
              .append('\'');
      args.add(id.value());
      if (every) {
        // a batch's seqs run 0, 1, 2, ... (its jobs' places, as inserted, none ever removed):
        // with every status matching, the page is the jobs of seq offset to offset + limit, read
        // from the indexes with no row skipped and none read twice, so reading a large batch page
        // by page is linear, not quadratic
        branch.append(" AND seq >= ? AND seq < ?)");
        args.add((long) query.offset());
        args.add((long) query.offset() + query.limit() + 1);
      } else {
        branch.append(" ORDER BY seq LIMIT ?)");
        args.add((long) query.offset() + query.limit() + 1);
      }
      branches.add(branch.toString());
    }
    StringBuilder sql =
        new StringBuilder("SELECT * FROM (")
            .append(String.join(" UNION ALL ", branches))
            .append(") j ORDER BY seq LIMIT ?");
    args.add(query.limit() + 1);
    if (!every) {
      sql.append(" OFFSET ?");
      args.add(query.offset());
    }
    return new Statement(sql.toString(), List.copyOf(args));
  }

  /**
   * The work of one {@code listJobs} across batches: the jobs of every batch that match, by job id,
   * highest first. The id order lets the database read the jobs' primary key from its high end and
   * stop once the page is full.
   */
  Transactions.Work<Page<Job>> listJobs(JobQuery query) {
    StringBuilder sql =
        new StringBuilder(
            "SELECT "
                + jobColumns("j.")
                + " FROM "
                + tables.jobs
                + " j JOIN "
                + tables.batches
                + " b ON b.id = j.batch_id WHERE 1 = 1");
    List<Object> args = new ArrayList<>();
    if (!query.statuses().isEmpty()) {
      sql.append(" AND j.status IN (").append(Tables.params(query.statuses().size())).append(')');
      query.statuses().stream().map(Enum::name).sorted().forEach(args::add);
    }
    query
        .jobType()
        .ifPresent(
            t -> {
              sql.append(" AND b.job_type = ?");
              args.add(new Tables.Key(t));
            });
    for (Map.Entry<String, String> entry : new TreeMap<>(query.metadata()).entrySet()) {
      sql.append(" AND EXISTS (SELECT 1 FROM ")
          .append(tables.metadata)
          .append(" m WHERE m.batch_id = b.id AND m.meta_key = ? AND m.meta_value = ?)");
      args.add(new Tables.Key(entry.getKey()));
      args.add(new Tables.Key(entry.getValue()));
    }
    query
        .finishedAfter()
        .ifPresent(
            t -> {
              sql.append(" AND j.finished_at >= ?");
              args.add(t);
            });
    query
        .finishedBefore()
        .ifPresent(
            t -> {
              sql.append(" AND j.finished_at < ?");
              args.add(t);
            });
    sql.append(" ORDER BY j.id DESC LIMIT ? OFFSET ?");
    args.add(query.limit() + 1);
    args.add(query.offset());
    return c -> readJobs(c, sql.toString(), args, query);
  }

  /** The columns a {@link Job} is read from, each prefixed with {@code alias}. */
  private static String jobColumns(String alias) {
    return String.join(
                ", ",
                List.of(
                    "id",
                    "batch_id",
                    "status",
                    "attempt",
                    "payload",
                    "result",
                    "error",
                    "started_at",
                    "finished_at",
                    "updated_at",
                    "owner",
                    "progress",
                    "progress_message",
                    "progress_at"))
            .replaceAll("([a-z_]+)", alias + "$1")
        + ", CASE WHEN "
        + alias
        + "status = 'PROCESSING' AND "
        + alias
        + "progress_token = "
        + alias
        + "fencing_token THEN 1 ELSE 0 END AS progress_current";
  }

  /** Runs a jobs statement with one row more than the page, and makes the page. */
  private Page<Job> readJobs(Connection c, String sql, List<Object> args, JobQuery query)
      throws SQLException {
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      tables.bind(ps, args);
      List<Job> found = new ArrayList<>();
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found.add(
              new Job(
                  new JobId(dialect.getUuid(rs, "id")),
                  new BatchId(dialect.getUuid(rs, "batch_id")),
                  JobStatus.valueOf(rs.getString("status")),
                  rs.getInt("attempt"),
                  rs.getString("payload"),
                  Optional.ofNullable(rs.getString("result")),
                  Optional.ofNullable(rs.getString("error")),
                  Optional.ofNullable(dialect.getInstant(rs, "started_at")),
                  Optional.ofNullable(dialect.getInstant(rs, "finished_at")),
                  dialect.getInstant(rs, "updated_at"),
                  Optional.ofNullable(rs.getString("owner")),
                  progress(rs)));
        }
      }
      boolean more = found.size() > query.limit();
      List<Job> page = more ? found.subList(0, query.limit()) : found;
      return new Page<>(page, query.offset(), query.limit(), more);
    }
  }

  /**
   * The durations of the final attempts of a batch's latest succeeded and failed jobs, up to {@code
   * max} of each: one statement per status, each a backward read of the (batch, status, seq) index,
   * so the cost does not grow with the batch. The status is a literal, as PostgreSQL's index is
   * partial.
   *
   * @throws BatchNotFoundException if no batch has this id
   */
  Map<JobStatus, List<Duration>> jobDurations(Connection c, BatchId id, int max)
      throws SQLException {
    if (readBatch(c, id.value(), false) == null) {
      throw new BatchNotFoundException(id);
    }
    Map<JobStatus, List<Duration>> durations = new EnumMap<>(JobStatus.class);
    for (JobStatus status : List.of(JobStatus.SUCCEEDED, JobStatus.FAILED)) {
      List<Duration> found = new ArrayList<>();
      durations.put(status, found);
      try (PreparedStatement ps = c.prepareStatement(durationsSql(status))) {
        dialect.setUuid(ps, 1, id.value());
        ps.setInt(2, max);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            found.add(
                Duration.between(
                    dialect.getInstant(rs, "started_at"), dialect.getInstant(rs, "finished_at")));
          }
        }
      }
    }
    return durations;
  }

  /**
   * The statement of {@code jobDurations} for one status; its parameters are the batch's id and the
   * most rows.
   */
  String durationsSql(JobStatus status) {
    return "SELECT started_at, finished_at FROM "
        + tables.jobs
        + " WHERE batch_id = ? AND status = '"
        + status.name()
        + "' AND started_at IS NOT NULL AND finished_at IS NOT NULL ORDER BY seq DESC LIMIT ?";
  }

  /** The progress of a job row's running attempt, if it reported any ({@link Leases}). */
  private Optional<JobProgress> progress(ResultSet rs) throws SQLException {
    if (rs.getInt("progress_current") == 0) {
      return Optional.empty();
    }
    return Optional.of(
        new JobProgress(
            rs.getDouble("progress"),
            Optional.ofNullable(rs.getString("progress_message")),
            dialect.getInstant(rs, "progress_at")));
  }

  /** The queued and the running jobs of started batches, from their counters. */
  long[] queuedAndRunning(Connection c) throws SQLException {
    String ahead = BatchRow.fetchedAhead(tables, "b");
    String sql =
        ("SELECT COALESCE(SUM(b.queued - %1$s), 0), COALESCE(SUM(b.processing + %1$s), 0)"
                + " FROM %2$s b WHERE b.status = 'PROCESSING'")
            .formatted(ahead, tables.batches);
    try (PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      rs.next();
      return new long[] {rs.getLong(1), rs.getLong(2)};
    }
  }

  /** The work of one {@code countQueuedJobs} call. */
  Transactions.Work<Long> countQueuedJobs() {
    String sql =
        "SELECT COALESCE(SUM(b.queued - %s), 0) FROM %s b WHERE b.status = 'PROCESSING'"
            .formatted(BatchRow.fetchedAhead(tables, "b"), tables.batches);
    return c -> {
      try (PreparedStatement ps = c.prepareStatement(sql);
          ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1);
      }
    };
  }

  /**
   * Locks a batch row unless another transaction holds it ({@code FOR UPDATE SKIP LOCKED}); returns
   * null if it is held elsewhere or gone. For a step that may hold rows after it in id order, and
   * can do without this one.
   */
  BatchRow lockBatchIfFree(Connection c, UUID id) throws SQLException {
    return readBatch(c, id, " FOR UPDATE SKIP LOCKED");
  }

  /**
   * Locks the rows of {@code ids} in id order and returns those that exist, in id order; on
   * PostgreSQL locks first and reads after, as {@link #readBatch(Connection, UUID, String)} says.
   */
  Map<UUID, BatchRow> lockBatches(Connection c, Collection<UUID> ids) throws SQLException {
    return lockBatches(c, ids, false);
  }

  /**
   * As {@link #lockBatches(Connection, Collection)}; with {@code skipHeld}, leaves out the rows
   * another transaction holds instead of waiting for them: for a step whose transaction may hold
   * rows after them in id order already.
   */
  Map<UUID, BatchRow> lockBatches(Connection c, Collection<UUID> ids, boolean skipHeld)
      throws SQLException {
    List<UUID> sorted = Tables.inStoreOrder(ids);
    String lock = skipHeld ? " FOR UPDATE SKIP LOCKED" : " FOR UPDATE";
    boolean lockFirst = dialect.hasSingleStatementSteps();
    if (lockFirst) {
      List<UUID> held = new ArrayList<>();
      tables.selectIn(
          c,
          sorted,
          "SELECT id FROM " + tables.batches + " WHERE id IN (",
          ") ORDER BY id" + lock,
          List.of(),
          rs -> held.add(dialect.getUuid(rs, "id")));
      sorted = held;
    }
    Map<UUID, BatchRow> rows = new LinkedHashMap<>();
    tables.selectIn(
        c,
        sorted,
        "SELECT "
            + BatchRow.select(tables, tables.batches)
            + " FROM "
            + tables.batches
            + " WHERE id IN (",
        lockFirst ? ") ORDER BY id" : ") ORDER BY id" + lock,
        List.of(),
        rs -> {
          BatchRow row = new BatchRow(rs, dialect);
          rows.put(row.id, row);
        });
    return rows;
  }
}
