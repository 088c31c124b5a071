package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchQuery;
import io.batchkit.BatchStatus;
import io.batchkit.CancellationSummary;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Page;
import io.batchkit.Progress;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.StoreChecks;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.jdbc.SqlDialect;
import io.batchkit.spi.BatchStatusRule;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompleteAndClaimResult;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.InsertResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import io.batchkit.spi.Subscription;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

/**
 * The {@link JobStore} on SQL. Every method is one transaction (see {@link Transactions}).
 *
 * <p>Locking: a step that changes jobs first locks the rows of their batches ({@code SELECT ... FOR
 * UPDATE}, in id order), then the job rows (in id order), so two steps never wait on each other in
 * a cycle, and a batch's counters are read and written under its row lock: that is what makes the
 * per-batch concurrency limit and the counters exact across nodes. A claim reads the candidate
 * batches in dispatch order without locks, then locks them the same way and checks them again; it
 * waits for a batch row held by another node's step rather than skipping it, because skipping would
 * hand out lower-priority work while a higher-priority batch is busy for a moment. Job rows are
 * read under their batch's row lock and then updated.
 *
 * <p>Counters: each batch row keeps its count of jobs per status, changed in the same transaction
 * as the jobs, so reading a batch is one primary-key lookup whatever its size.
 */
public final class SqlJobStore implements JdbcJobStore {
  private static final int INSERT_ROWS_PER_STATEMENT =
      4_000; // 24,000 parameters: under every driver's limit
  private static final int INSERT_CHARS_PER_STATEMENT = 4 * 1024 * 1024;

  private final Dialect dialect;
  private final Transactions tx;
  private final Tables tables;
  private final WorkNotifier notifier;
  private final String batches;
  private final String jobs;
  private final String metadata;

  public SqlJobStore(javax.sql.DataSource dataSource, Dialect dialect, String prefix) {
    this.dialect = dialect;
    this.tx = new Transactions(dataSource, dialect);
    this.tables = new Tables(dialect, prefix);
    this.batches = tables.batches;
    this.jobs = tables.jobs;
    this.metadata = tables.metadata;
    this.notifier = new WorkNotifier(dataSource, dialect, tx, prefix);
  }

  @Override
  public Subscription subscribe(Runnable onWork) {
    Checks.notNull(onWork, "onWork");
    return notifier.subscribe(onWork);
  }

  @Override
  public SqlDialect dialect() {
    return dialect.kind();
  }

  @Override
  public String tablePrefix() {
    return tables.prefix;
  }

  /** The PostgreSQL channel on which this store announces new claimable work. */
  public String notifyChannel() {
    return notifier.notifyChannel();
  }

  // ------------------------------------------------------------------ insert and read

  @Override
  public InsertResult insertBatch(Batch batch, List<NewJob> newJobs) {
    StoreChecks.newBatch(batch, newJobs);
    try {
      return notifier.write("insertBatch", c -> insert(c, batch, newJobs));
    } catch (DuplicateKey e) {
      if (batch.idempotencyKey().isPresent()) {
        Optional<Batch> existing =
            tx.read("insertBatch", c -> findByKey(c, batch.idempotencyKey().get()));
        if (existing.isPresent()) {
          return new InsertResult(existing.get(), false);
        }
      }
      throw new IllegalArgumentException(
          "batch id " + batch.id() + " or one of its job ids is taken", e.getCause());
    }
  }

  /** Thrown inside the insert transaction on a unique-key violation, to leave it rolled back. */
  private static final class DuplicateKey extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DuplicateKey(SQLException cause) {
      super(cause);
    }
  }

  private InsertResult insert(Connection c, Batch batch, List<NewJob> newJobs) throws SQLException {
    if (batch.idempotencyKey().isPresent()) {
      Optional<Batch> existing = findByKey(c, batch.idempotencyKey().get());
      if (existing.isPresent()) {
        return new InsertResult(existing.get(), false);
      }
    }
    try {
      insertBatchRow(c, batch);
      insertMetadata(c, batch);
      insertJobs(c, batch, newJobs);
    } catch (SQLException e) {
      if (dialect.isDuplicateKey(e)) {
        throw new DuplicateKey(e);
      }
      throw e;
    }
    if (batch.status() == BatchStatus.PROCESSING) {
      notifier.notifyWork(c);
    }
    return new InsertResult(batch, true);
  }

  private void insertBatchRow(Connection c, Batch b) throws SQLException {
    String sql =
        "INSERT INTO "
            + batches
            + " ("
            + BatchRow.COLUMNS
            + ", last_served_ms, served_seq)"
            + " VALUES ("
            + Tables.params(24)
            + ")";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      int i = 0;
      dialect.setUuid(ps, ++i, b.id().value());
      ps.setString(++i, b.name());
      dialect.setKey(ps, ++i, b.jobType());
      ps.setInt(++i, b.priority().rank());
      ps.setString(++i, MetadataCodec.encode(b.metadata()));
      ps.setInt(++i, b.maxConcurrency());
      ps.setInt(++i, b.maxAttempts());
      ps.setLong(++i, b.jobTimeout().toMillis());
      ps.setInt(++i, b.failurePolicy().maxFailures());
      ps.setDouble(++i, b.failurePolicy().maxFailureRatio());
      dialect.setKey(ps, ++i, b.idempotencyKey().orElse(null));
      ps.setString(++i, b.status().name());
      Progress p = b.progress();
      ps.setLong(++i, p.total());
      ps.setLong(++i, p.queued());
      ps.setLong(++i, p.processing());
      ps.setLong(++i, p.succeeded());
      ps.setLong(++i, p.failed());
      ps.setLong(++i, p.cancelled());
      dialect.setInstant(ps, ++i, b.createdAt());
      dialect.setInstant(ps, ++i, b.startedAt().orElse(null));
      dialect.setInstant(ps, ++i, b.updatedAt());
      dialect.setInstant(ps, ++i, b.completedAt().orElse(null));
      ps.setLong(++i, b.startedAt().orElse(b.createdAt()).toEpochMilli());
      ps.setLong(++i, 0);
      ps.executeUpdate();
    }
  }

  private void insertMetadata(Connection c, Batch b) throws SQLException {
    if (b.metadata().isEmpty()) {
      return;
    }
    String sql = "INSERT INTO " + metadata + " (batch_id, meta_key, meta_value) VALUES (?, ?, ?)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (Map.Entry<String, String> entry : b.metadata().entrySet()) {
        dialect.setUuid(ps, 1, b.id().value());
        dialect.setKey(ps, 2, entry.getKey());
        dialect.setKey(ps, 3, entry.getValue());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /**
   * Inserts jobs with multi-row VALUES statements: few round trips whatever the driver settings.
   */
  private void insertJobs(Connection c, Batch b, List<NewJob> newJobs) throws SQLException {
    String head =
        "INSERT INTO "
            + jobs
            + " (id, batch_id, seq, payload, status, attempt, fencing_token, run_at, updated_at)"
            + " VALUES ";
    String row = "(?, ?, ?, ?, 'QUEUED', 0, 0, ?, ?)";
    Map<Integer, String> statements = new HashMap<>();
    int start = 0;
    while (start < newJobs.size()) {
      int end = start;
      long chars = 0;
      while (end < newJobs.size()
          && end - start < INSERT_ROWS_PER_STATEMENT
          && (end == start
              || chars + newJobs.get(end).payload().length() <= INSERT_CHARS_PER_STATEMENT)) {
        chars += newJobs.get(end).payload().length();
        end++;
      }
      int rows = end - start;
      String sql =
          statements.computeIfAbsent(
              rows, n -> head + String.join(", ", Collections.nCopies(n, row)));
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        int i = 0;
        for (int seq = start; seq < end; seq++) {
          NewJob job = newJobs.get(seq);
          dialect.setUuid(ps, ++i, job.id().value());
          dialect.setUuid(ps, ++i, b.id().value());
          ps.setInt(++i, seq);
          ps.setString(++i, job.payload());
          dialect.setInstant(ps, ++i, b.createdAt());
          dialect.setInstant(ps, ++i, b.createdAt());
        }
        ps.executeUpdate();
      }
      start = end;
    }
  }

  private Optional<Batch> findByKey(Connection c, String key) throws SQLException {
    String sql = "SELECT " + BatchRow.COLUMNS + " FROM " + batches + " WHERE idempotency_key = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setKey(ps, 1, key);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? Optional.of(new BatchRow(rs, dialect).toBatch()) : Optional.empty();
      }
    }
  }

  @Override
  public Optional<Batch> findBatch(BatchId id) {
    Checks.notNull(id, "id");
    return tx.read("findBatch", c -> Optional.ofNullable(readBatch(c, id.value(), false)))
        .map(BatchRow::toBatch);
  }

  private BatchRow readBatch(Connection c, UUID id, boolean lock) throws SQLException {
    String sql =
        "SELECT "
            + BatchRow.COLUMNS
            + " FROM "
            + batches
            + " WHERE id = ?"
            + (lock ? " FOR UPDATE" : "");
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setUuid(ps, 1, id);
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() ? new BatchRow(rs, dialect) : null;
      }
    }
  }

  private BatchRow lockBatch(Connection c, BatchId id) throws SQLException {
    BatchRow row = readBatch(c, id.value(), true);
    if (row == null) {
      throw new BatchNotFoundException(id);
    }
    return row;
  }

  @Override
  public Page<Batch> listBatches(BatchQuery query) {
    Checks.notNull(query, "query");
    StringBuilder sql =
        new StringBuilder("SELECT " + BatchRow.COLUMNS + " FROM " + batches + " b WHERE 1 = 1");
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
          .append(metadata)
          .append(" m WHERE m.batch_id = b.id AND m.meta_key = ? AND m.meta_value = ?)");
      args.add(new Tables.Key(entry.getKey()));
      args.add(new Tables.Key(entry.getValue()));
    }
    sql.append(" ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?");
    args.add(query.limit() + 1);
    args.add(query.offset());
    return tx.read(
        "listBatches",
        c -> {
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
        });
  }

  @Override
  public Page<Job> listJobs(BatchId id, JobQuery query) {
    Checks.notNull(id, "id");
    Checks.notNull(query, "query");
    StringBuilder sql =
        new StringBuilder(
            "SELECT id, batch_id, status, attempt, payload, result, error, started_at,"
                + " finished_at, updated_at, owner FROM "
                + jobs
                + " WHERE batch_id = ?");
    List<Object> args = new ArrayList<>();
    args.add(id.value());
    if (!query.statuses().isEmpty()) {
      sql.append(" AND status IN (").append(Tables.params(query.statuses().size())).append(')');
      query.statuses().stream().map(Enum::name).sorted().forEach(args::add);
    }
    sql.append(" ORDER BY seq LIMIT ? OFFSET ?");
    args.add(query.limit() + 1);
    args.add(query.offset());
    return tx.read(
        "listJobs",
        c -> {
          if (readBatch(c, id.value(), false) == null) {
            throw new BatchNotFoundException(id);
          }
          try (PreparedStatement ps = c.prepareStatement(sql.toString())) {
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
                        Optional.ofNullable(rs.getString("owner"))));
              }
            }
            boolean more = found.size() > query.limit();
            List<Job> page = more ? found.subList(0, query.limit()) : found;
            return new Page<>(page, query.offset(), query.limit(), more);
          }
        });
  }

  @Override
  public long countQueuedJobs() {
    String sql = "SELECT COALESCE(SUM(queued), 0) FROM " + batches + " WHERE status = 'PROCESSING'";
    return tx.read(
        "countQueuedJobs",
        c -> {
          try (PreparedStatement ps = c.prepareStatement(sql);
              ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
          }
        });
  }

  // ------------------------------------------------------------------ batch transitions

  @Override
  public Batch startBatch(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    return notifier.write(
        "startBatch",
        c -> {
          BatchRow row = lockBatch(c, id);
          StoreChecks.canStart(id, row.status);
          String sql =
              "UPDATE "
                  + batches
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
          return row.toBatch();
        });
  }

  @Override
  public CancellationSummary cancelBatch(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    return tx.run(
        "cancelBatch",
        c -> {
          BatchRow row = lockBatch(c, id);
          StoreChecks.canCancel(id, row.status);
          long finished = row.progress().finished();
          long running = row.count(JobStatus.PROCESSING);
          long cancelled = cancelQueued(c, row, now);
          row.status = BatchStatusRule.finalStatus(row.progress(), true, false);
          row.completedAt = now;
          row.updatedAt = now;
          writeBatches(c, List.of(row));
          return new CancellationSummary(id, cancelled, running, finished);
        });
  }

  private long cancelQueued(Connection c, BatchRow row, Instant now) throws SQLException {
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
            + jobs
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

  @Override
  public Batch retryFailed(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    return notifier.write(
        "retryFailed",
        c -> {
          BatchRow row = lockBatch(c, id);
          Progress progress = row.progress();
          StoreChecks.canRetryFailed(id, row.status, progress);

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
          String served = "UPDATE " + batches + " SET last_served_ms = ? WHERE id = ?";
          try (PreparedStatement ps = c.prepareStatement(served)) {
            ps.setLong(1, now.toEpochMilli());
            dialect.setUuid(ps, 2, row.id);
            ps.executeUpdate();
          }
          notifier.notifyWork(c);
          return row.toBatch();
        });
  }

  @Override
  public void deleteBatch(BatchId id) {
    Checks.notNull(id, "id");
    tx.run(
        "deleteBatch",
        c -> {
          BatchRow row = lockBatch(c, id);
          StoreChecks.canDelete(id, row.status, row.progress());
          for (String table : List.of(jobs, metadata)) {
            try (PreparedStatement ps =
                c.prepareStatement("DELETE FROM " + table + " WHERE batch_id = ?")) {
              dialect.setUuid(ps, 1, row.id);
              ps.executeUpdate();
            }
          }
          try (PreparedStatement ps =
              c.prepareStatement("DELETE FROM " + batches + " WHERE id = ?")) {
            dialect.setUuid(ps, 1, row.id);
            ps.executeUpdate();
          }
          return null;
        });
  }

  // ------------------------------------------------------------------ claim

  @Override
  public List<ClaimedJob> claim(ClaimRequest request) {
    Checks.notNull(request, "request");
    List<String> types = claimableTypes(request);
    if (types.isEmpty()) {
      return List.of();
    }
    return tx.run("claim", c -> claimIn(c, request, types));
  }

  /** The job types the request may claim any of, sorted. */
  private static List<String> claimableTypes(ClaimRequest request) {
    List<String> types = new ArrayList<>();
    request
        .jobTypes()
        .forEach(
            (type, limit) -> {
              if (limit > 0) {
                types.add(type);
              }
            });
    Collections.sort(types);
    return types;
  }

  /** The batches a claim may take jobs from, in dispatch order, read without locks. */
  private List<UUID> candidates(Connection c, ClaimRequest request, List<String> types)
      throws SQLException {
    String pick =
        "SELECT id FROM "
            + batches
            + " WHERE status = 'PROCESSING' AND queued > 0 AND processing < max_concurrency"
            + " AND job_type IN ("
            + Tables.params(types.size())
            + ")"
            + " ORDER BY priority * "
            + dialect.bigintParam()
            + " + last_served_ms, served_seq, id"
            + " LIMIT ?";
    List<UUID> order = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(pick)) {
      int i = 0;
      for (String type : types) {
        dialect.setKey(ps, ++i, type);
      }
      ps.setLong(++i, request.agingStep().toMillis());
      ps.setInt(++i, request.maxJobs());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          order.add(dialect.getUuid(rs, "id"));
        }
      }
    }
    return order;
  }

  private List<ClaimedJob> claimIn(Connection c, ClaimRequest request, List<String> types)
      throws SQLException {
    // 1. the candidates in dispatch order, read without locks
    List<UUID> order = candidates(c, request, types);
    if (order.isEmpty()) {
      return List.of();
    }
    // 2. lock them in id order, like every other step, and wait rather than skip: skipping a batch
    // whose row another node holds for a moment would hand out lower-priority work first
    Map<UUID, BatchRow> locked = lockBatches(c, order);
    List<Object[]> candidates = new ArrayList<>();
    for (UUID id : order) {
      BatchRow row = locked.get(id);
      int free = row == null ? 0 : row.maxConcurrency - (int) row.count(JobStatus.PROCESSING);
      // 3. the row may have changed between the read and the lock
      if (row != null
          && row.status == BatchStatus.PROCESSING
          && row.count(JobStatus.QUEUED) > 0
          && free > 0) {
        candidates.add(new Object[] {id, row.jobType, free});
      }
    }
    // 4. the due jobs of each batch in order: no row locks needed, since every step that changes a
    // batch's queued jobs holds the batch row, which this claim holds too (a FOR UPDATE here would
    // make H2 lock every queued job of the batch, not just the ones returned)
    List<ClaimedJob> claimed = new ArrayList<>();
    Map<String, Integer> takenPerType = new HashMap<>();
    String select =
        "SELECT id, payload, attempt, fencing_token FROM "
            + jobs
            + " WHERE batch_id = ? AND status = 'QUEUED' AND run_at <= ?"
            + " ORDER BY seq LIMIT ?";
    for (Object[] candidate : candidates) {
      UUID batchId = (UUID) candidate[0];
      String type = (String) candidate[1];
      int room = request.maxJobs() - claimed.size();
      int typeRoom = request.limitFor(type) - takenPerType.getOrDefault(type, 0);
      int want = Math.min(room, Math.min(typeRoom, (Integer) candidate[2]));
      if (room <= 0) {
        break;
      }
      if (want <= 0) {
        continue;
      }
      List<ClaimedJob> group = new ArrayList<>(want);
      try (PreparedStatement ps = c.prepareStatement(select)) {
        dialect.setUuid(ps, 1, batchId);
        dialect.setInstant(ps, 2, request.now());
        ps.setInt(3, want);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            group.add(
                new ClaimedJob(
                    new JobId(dialect.getUuid(rs, "id")),
                    new BatchId(batchId),
                    rs.getString("payload"),
                    rs.getInt("attempt") + 1,
                    Tables.nextStamp(rs.getLong("fencing_token"))));
          }
        }
      }
      if (group.isEmpty()) {
        continue;
      }
      String lease =
          "UPDATE "
              + jobs
              + " SET status = 'PROCESSING', attempt = ?, fencing_token = ?,"
              + " owner = ?, lease_until = ?, started_at = ?, updated_at = ?, error = NULL"
              + " WHERE id = ?";
      try (PreparedStatement ps = c.prepareStatement(lease)) {
        for (ClaimedJob job : group) {
          ps.setInt(1, job.attempt());
          ps.setLong(2, job.fencingToken());
          ps.setString(3, request.nodeId());
          dialect.setInstant(ps, 4, request.leaseUntil());
          dialect.setInstant(ps, 5, request.now());
          dialect.setInstant(ps, 6, request.now());
          dialect.setUuid(ps, 7, job.id().value());
          ps.addBatch();
        }
        ps.executeBatch();
      }
      String served =
          "UPDATE "
              + batches
              + " SET queued = queued - ?, processing = processing + ?,"
              + " last_served_ms = ?, served_seq = ?, updated_at = ? WHERE id = ?";
      try (PreparedStatement ps = c.prepareStatement(served)) {
        ps.setLong(1, group.size());
        ps.setLong(2, group.size());
        ps.setLong(3, request.now().toEpochMilli());
        ps.setLong(4, Tables.nextStamp(0));
        dialect.setInstant(ps, 5, request.now());
        dialect.setUuid(ps, 6, batchId);
        ps.executeUpdate();
      }
      takenPerType.merge(type, group.size(), Integer::sum);
      claimed.addAll(group);
    }
    return claimed;
  }

  // ------------------------------------------------------------------ outcomes

  /** A job row locked for a transition. */
  private static final class JobLock {
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

  @Override
  public CompletionResult complete(List<JobOutcome> outcomes, Instant now) {
    checkOutcomes(outcomes, now);
    if (outcomes.isEmpty()) {
      return new CompletionResult(Set.of(), List.of());
    }
    return notifier.write("complete", c -> completeIn(c, outcomes, now));
  }

  /**
   * Both steps in one transaction: one commit, and the batch rows locked once. The rows of the
   * batches the outcomes touch and of the claim's likely candidates are locked first, together and
   * in id order, so that this step and others lock in the same order.
   */
  @Override
  public CompleteAndClaimResult completeAndClaim(
      List<JobOutcome> outcomes, Instant now, ClaimRequest request) {
    checkOutcomes(outcomes, now);
    Checks.notNull(request, "request");
    List<String> types = claimableTypes(request);
    if (types.isEmpty()) {
      return new CompleteAndClaimResult(complete(outcomes, now), List.of());
    }
    if (outcomes.isEmpty()) {
      return new CompleteAndClaimResult(new CompletionResult(Set.of(), List.of()), claim(request));
    }
    return notifier.write(
        "complete and claim",
        c -> {
          Set<UUID> rows = new TreeSet<>(candidates(c, request, types));
          outcomes.forEach(o -> rows.add(o.batchId().value()));
          lockBatches(c, rows);
          CompletionResult completion = completeIn(c, outcomes, now);
          return new CompleteAndClaimResult(completion, claimIn(c, request, types));
        });
  }

  private static void checkOutcomes(List<JobOutcome> outcomes, Instant now) {
    Checks.notNull(outcomes, "outcomes");
    Checks.notNull(now, "now");
    outcomes.forEach(o -> Checks.notNull(o, "outcome"));
  }

  private CompletionResult completeIn(Connection c, List<JobOutcome> outcomes, Instant now)
      throws SQLException {
    Set<UUID> batchIds = new TreeSet<>();
    Set<UUID> jobIds = new TreeSet<>();
    for (JobOutcome o : outcomes) {
      batchIds.add(o.batchId().value());
      jobIds.add(o.jobId().value());
    }
    Map<UUID, BatchRow> rows = lockBatches(c, batchIds);
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

  /** Collects job updates by kind, then runs each kind as one JDBC batch. */
  private final class Transitions {
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
              + jobs
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
              + jobs
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
              + jobs
              + " SET status = 'CANCELLED', lease_until = NULL, finished_at = ?,"
              + " updated_at = ? WHERE id = ?",
          now,
          now,
          id);
    }

    void retry(UUID id, String error, Instant at) {
      add(
          "UPDATE "
              + jobs
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
              + jobs
              + " SET status = 'QUEUED', attempt = attempt - 1, lease_until = NULL,"
              + " run_at = ?, updated_at = ? WHERE id = ?",
          now,
          now,
          id);
    }

    void expiredRetry(UUID id, String error) {
      add(
          "UPDATE "
              + jobs
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

  private Map<UUID, BatchRow> lockBatches(Connection c, Collection<UUID> ids) throws SQLException {
    Map<UUID, BatchRow> rows = new LinkedHashMap<>();
    tables.selectIn(
        c,
        new ArrayList<>(new TreeSet<>(ids)),
        "SELECT " + BatchRow.COLUMNS + " FROM " + batches + " WHERE id IN (",
        ") ORDER BY id FOR UPDATE",
        List.of(),
        rs -> {
          BatchRow row = new BatchRow(rs, dialect);
          rows.put(row.id, row);
        });
    return rows;
  }

  /** Locks job rows by id, in id order; with {@code expiredBefore}, only expired running ones. */
  private Map<UUID, JobLock> lockJobs(Connection c, Collection<UUID> ids, Instant expiredBefore)
      throws SQLException {
    Map<UUID, JobLock> locked = new HashMap<>();
    tables.selectIn(
        c,
        new ArrayList<>(new TreeSet<>(ids)),
        "SELECT id, batch_id, status, fencing_token, attempt, owner FROM "
            + jobs
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
  private List<Batch> settle(Connection c, Collection<BatchRow> rows, Instant now)
      throws SQLException {
    List<Batch> snapshots = new ArrayList<>();
    for (BatchRow row : rows) {
      row.updatedAt = now;
      if (row.status == BatchStatus.PROCESSING) {
        if (row.failurePolicy.isTripped(row.progress())) {
          cancelQueued(c, row, now);
          row.status = BatchStatusRule.finalStatus(row.progress(), false, true);
          row.completedAt = now;
        } else if (row.progress().pending() == 0) {
          row.status = BatchStatusRule.finalStatus(row.progress(), false, false);
          row.completedAt = now;
        }
      }
      snapshots.add(row.toBatch());
    }
    writeBatches(c, rows);
    return snapshots;
  }

  private void writeBatches(Connection c, Collection<BatchRow> rows) throws SQLException {
    if (rows.isEmpty()) {
      return;
    }
    String sql =
        "UPDATE "
            + batches
            + " SET status = ?, queued = ?, processing = ?, succeeded = ?,"
            + " failed = ?, cancelled = ?, updated_at = ?, completed_at = ? WHERE id = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (BatchRow row : rows) {
        ps.setString(1, row.status.name());
        ps.setLong(2, row.count(JobStatus.QUEUED));
        ps.setLong(3, row.count(JobStatus.PROCESSING));
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

  // ------------------------------------------------------------------ leases

  @Override
  public HeartbeatResult heartbeat(String nodeId, Map<JobId, Long> leases, Instant leaseUntil) {
    Checks.notNull(nodeId, "nodeId");
    Checks.notNull(leases, "leases");
    Checks.notNull(leaseUntil, "leaseUntil");
    if (leases.isEmpty()) {
      return new HeartbeatResult(Set.of(), Set.of());
    }
    return tx.run(
        "heartbeat",
        c -> {
          Map<UUID, Long> sorted = new TreeMap<>();
          leases.forEach((id, token) -> sorted.put(id.value(), token));
          String renew =
              "UPDATE "
                  + jobs
                  + " SET lease_until = ? WHERE id = ? AND fencing_token = ?"
                  + " AND owner = ? AND status = 'PROCESSING'";
          try (PreparedStatement ps = c.prepareStatement(renew)) {
            for (Map.Entry<UUID, Long> entry : sorted.entrySet()) {
              dialect.setInstant(ps, 1, leaseUntil);
              dialect.setUuid(ps, 2, entry.getKey());
              ps.setLong(3, entry.getValue());
              ps.setString(4, nodeId);
              ps.addBatch();
            }
            ps.executeBatch();
          }
          Set<JobId> lost = new HashSet<>();
          Set<JobId> cancel = new HashSet<>();
          List<UUID> ids = new ArrayList<>(sorted.keySet());
          // renewed jobs still held by this node, and whether their batch has a final status
          Map<UUID, Boolean> held = new HashMap<>();
          tables.selectIn(
              c,
              ids,
              "SELECT j.id, j.fencing_token, j.owner, j.status, b.status AS batch_status FROM "
                  + jobs
                  + " j JOIN "
                  + batches
                  + " b ON b.id = j.batch_id WHERE j.id IN (",
              ")",
              List.of(),
              rs -> {
                UUID id = dialect.getUuid(rs, "id");
                if ("PROCESSING".equals(rs.getString("status"))
                    && rs.getLong("fencing_token") == sorted.get(id)
                    && nodeId.equals(rs.getString("owner"))) {
                  held.put(id, BatchStatus.valueOf(rs.getString("batch_status")).isFinal());
                }
              });
          for (UUID id : ids) {
            Boolean batchFinal = held.get(id);
            if (batchFinal == null) {
              lost.add(new JobId(id));
            } else if (batchFinal) {
              cancel.add(new JobId(id));
            }
          }
          return new HeartbeatResult(lost, cancel);
        });
  }

  @Override
  public CompletionResult requeueExpired(Instant now, int maxJobs) {
    Checks.notNull(now, "now");
    Checks.positive(maxJobs, "maxJobs");
    return notifier.write(
        "requeueExpired",
        c -> {
          String find =
              "SELECT id, batch_id FROM "
                  + jobs
                  + " WHERE status = 'PROCESSING' AND lease_until < ? ORDER BY lease_until LIMIT ?";
          Map<UUID, UUID> candidates = new LinkedHashMap<>();
          try (PreparedStatement ps = c.prepareStatement(find)) {
            dialect.setInstant(ps, 1, now);
            ps.setInt(2, Math.min(maxJobs, Tables.IN_LIST_LIMIT));
            try (ResultSet rs = ps.executeQuery()) {
              while (rs.next()) {
                candidates.put(dialect.getUuid(rs, "id"), dialect.getUuid(rs, "batch_id"));
              }
            }
          }
          if (candidates.isEmpty()) {
            return new CompletionResult(Set.of(), List.of());
          }
          Map<UUID, BatchRow> rows = lockBatches(c, new HashSet<>(candidates.values()));
          Map<UUID, JobLock> expired = lockJobs(c, candidates.keySet(), now);
          Transitions transitions = new Transitions(now);
          Map<UUID, BatchRow> touched = new LinkedHashMap<>();
          boolean requeued = false;
          for (Map.Entry<UUID, JobLock> entry : new TreeMap<>(expired).entrySet()) {
            JobLock job = entry.getValue();
            BatchRow row = rows.get(job.batchId);
            if (row == null) {
              continue;
            }
            String error = "lease expired on node " + job.owner;
            JobStatus to;
            if (row.status.isFinal()) {
              transitions.cancelled(entry.getKey());
              to = JobStatus.CANCELLED;
            } else if (job.attempt < row.maxAttempts) {
              transitions.expiredRetry(entry.getKey(), error);
              to = JobStatus.QUEUED;
              requeued = true;
            } else {
              transitions.failed(entry.getKey(), error + " and no attempt is left");
              to = JobStatus.FAILED;
            }
            row.move(JobStatus.PROCESSING, to, 1);
            touched.put(row.id, row);
          }
          transitions.execute(c);
          List<Batch> snapshots = settle(c, touched.values(), now);
          if (requeued) {
            notifier.notifyWork(c);
          }
          return new CompletionResult(Set.of(), snapshots);
        });
  }
}
