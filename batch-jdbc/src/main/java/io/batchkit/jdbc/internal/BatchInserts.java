package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.Progress;
import io.batchkit.internal.util.BatchEvents;
import io.batchkit.internal.util.StoreChecks;
import io.batchkit.internal.util.Webhooks;
import io.batchkit.spi.InsertResult;
import io.batchkit.spi.NewJob;
import io.batchkit.spi.StoredRequest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Creates a batch: its row, its metadata rows and its job rows, after looking its idempotency key
 * up. Exists because inserting is the one step that writes every table at once and the only one
 * that meets unique keys, which it turns into {@link DuplicateKey}.
 */
final class BatchInserts {
  private static final int INSERT_ROWS_PER_STATEMENT =
      4_000; // 24,000 parameters: under every driver's limit
  private static final int INSERT_CHARS_PER_STATEMENT = 4 * 1024 * 1024;

  private final Tables tables;
  private final Dialect dialect;
  private final WorkNotifier notifier;
  private final BatchEventLog events;
  private final WebhookOutbox webhooks;

  BatchInserts(Tables tables, WorkNotifier notifier) {
    this.tables = tables;
    this.events = new BatchEventLog(tables);
    this.webhooks = new WebhookOutbox(tables);
    this.dialect = tables.dialect;
    this.notifier = notifier;
  }

  /** Thrown inside the insert transaction on a unique-key violation, to leave it rolled back. */
  static final class DuplicateKey extends RuntimeException {
    private static final long serialVersionUID = 1L;

    DuplicateKey(SQLException cause) {
      super(cause);
    }
  }

  InsertResult insert(Connection c, Batch batch, List<NewJob> newJobs, StoredRequest request)
      throws SQLException {
    // the fingerprint is kept for a keyed batch only: it is compared when the key comes again
    String fingerprint =
        batch.idempotencyKey().isPresent() ? request.fingerprint().orElse(null) : null;
    if (batch.idempotencyKey().isPresent()) {
      Optional<InsertResult> existing = findByKey(c, batch.idempotencyKey().get());
      if (existing.isPresent()) {
        return existing.get();
      }
    }
    try {
      int webhookEvents = Webhooks.events(request.webhooks());
      insertBatchRow(c, batch, webhookEvents);
      insertMetadata(c, batch);
      insertJobs(c, batch.id(), 0, newJobs, batch.createdAt());
      webhooks.store(c, batch.id(), request.webhooks());
      List<BatchEvent> happened = new ArrayList<>(2);
      happened.add(BatchEvents.created(batch, batch.createdAt()));
      if (batch.status() == BatchStatus.PROCESSING) {
        happened.add(BatchEvents.started(batch.id(), batch.createdAt(), BatchEvents.ON_CREATION));
      }
      events.record(c, happened);
      for (BatchEvent event : happened) {
        webhooks.enqueue(c, event, batch, webhookEvents);
      }
      if (fingerprint != null || request.startAt().isPresent()) {
        try (PreparedStatement ps =
            c.prepareStatement(
                "INSERT INTO "
                    + tables.requests
                    + " (batch_id, fingerprint, start_at) VALUES (?, ?, ?)")) {
          dialect.setUuid(ps, 1, batch.id().value());
          ps.setString(2, fingerprint);
          dialect.setInstant(ps, 3, request.startAt().orElse(null));
          ps.executeUpdate();
        }
      }
    } catch (SQLException e) {
      if (dialect.isDuplicateKey(e)) {
        throw new DuplicateKey(e);
      }
      throw e;
    }
    if (batch.status() == BatchStatus.PROCESSING) {
      notifier.notifyWork(c);
    }
    return new InsertResult(batch, true, Optional.ofNullable(fingerprint));
  }

  private void insertBatchRow(Connection c, Batch b, int webhookEvents) throws SQLException {
    String sql =
        "INSERT INTO "
            + tables.batches
            + " ("
            + BatchRow.COLUMNS
            + ", last_served_ms, served_seq)"
            + " VALUES ("
            + Tables.params(26)
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
      ps.setInt(++i, 0); // slots_held
      ps.setInt(++i, webhookEvents);
      ps.setLong(++i, b.startedAt().orElse(b.createdAt()).toEpochMilli());
      ps.setLong(++i, 0);
      ps.executeUpdate();
    }
  }

  private void insertMetadata(Connection c, Batch b) throws SQLException {
    if (b.metadata().isEmpty()) {
      return;
    }
    String sql =
        "INSERT INTO " + tables.metadata + " (batch_id, meta_key, meta_value) VALUES (?, ?, ?)";
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
   * Adds queued jobs to the end of a PENDING batch ({@code JobStore.addJobs}) and counts them; the
   * batch's row is locked first, so that two additions number their jobs one after the other.
   */
  Batch addJobs(
      Connection c, BatchReads reads, BatchId id, List<NewJob> newJobs, long maxTotal, Instant now)
      throws SQLException {
    BatchRow row = reads.lockBatch(c, id);
    StoreChecks.canAddJobs(id, row.status);
    StoreChecks.canHold(id, row.total, newJobs.size(), maxTotal);
    try {
      insertJobs(c, id, Math.toIntExact(row.total), newJobs, now);
    } catch (SQLException e) {
      if (dialect.isDuplicateKey(e)) {
        throw new DuplicateKey(e);
      }
      throw e;
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "UPDATE "
                + tables.batches
                + " SET total = total + ?, queued = queued + ?, updated_at = ? WHERE id = ?")) {
      ps.setLong(1, newJobs.size());
      ps.setLong(2, newJobs.size());
      dialect.setInstant(ps, 3, now);
      dialect.setUuid(ps, 4, id.value());
      ps.executeUpdate();
    }
    events.record(c, BatchEvents.itemsAdded(id, now, newJobs.size(), row.total + newJobs.size()));
    return reads.lockBatch(c, id).toBatch();
  }

  /**
   * Inserts jobs with multi-row VALUES statements (few round trips whatever the driver settings),
   * numbered from {@code firstSeq} in the batch's order.
   */
  private void insertJobs(
      Connection c, BatchId batchId, int firstSeq, List<NewJob> newJobs, Instant at)
      throws SQLException {
    String head =
        "INSERT INTO "
            + tables.jobs
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
        for (int index = start; index < end; index++) {
          NewJob job = newJobs.get(index);
          dialect.setUuid(ps, ++i, job.id().value());
          dialect.setUuid(ps, ++i, batchId.value());
          ps.setInt(++i, firstSeq + index);
          ps.setString(++i, job.payload());
          dialect.setInstant(ps, ++i, at);
          dialect.setInstant(ps, ++i, at);
        }
        ps.executeUpdate();
      }
      start = end;
    }
  }

  /**
   * Reads the batch that has idempotency key {@code key}, with the fingerprint stored with it, as
   * the result of an insert that found the key taken.
   */
  Optional<InsertResult> findByKey(Connection c, String key) throws SQLException {
    String sql =
        "SELECT "
            + BatchRow.select(tables, tables.batches)
            + ", (SELECT r.fingerprint FROM "
            + tables.requests
            + " r WHERE r.batch_id = "
            + tables.batches
            + ".id) AS request_fingerprint FROM "
            + tables.batches
            + " WHERE idempotency_key = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setKey(ps, 1, key);
      try (ResultSet rs = ps.executeQuery()) {
        if (!rs.next()) {
          return Optional.empty();
        }
        Batch batch = new BatchRow(rs, dialect).toBatch();
        return Optional.of(
            new InsertResult(
                batch, false, Optional.ofNullable(rs.getString("request_fingerprint"))));
      }
    }
  }
}
