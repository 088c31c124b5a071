package io.batchkit.jdbc.internal;

import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Where batch events are written and read (the {@code batch_events} table): each step that changes
 * a batch writes its event on the same connection, in the same transaction, so an event is stored
 * exactly when its change is. Holds no state but the table's name.
 */
final class BatchEventLog {
  private final Tables tables;
  private final Dialect dialect;

  BatchEventLog(Tables tables) {
    this.tables = tables;
    this.dialect = tables.dialect;
  }

  /** Writes {@code events} in their order (their ids then read back in it). */
  void record(Connection c, List<BatchEvent> events) throws SQLException {
    if (events.isEmpty()) {
      return;
    }
    String sql =
        "INSERT INTO "
            + tables.batchEvents
            + " (batch_id, type, happened_at, detail) VALUES (?, ?, ?, ?)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (BatchEvent event : events) {
        dialect.setUuid(ps, 1, event.batchId().value());
        ps.setString(2, event.type().name());
        dialect.setInstant(ps, 3, event.at());
        ps.setString(4, event.detail());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /** Writes one event. */
  void record(Connection c, BatchEvent event) throws SQLException {
    record(c, List.of(event));
  }

  /**
   * The events of a batch, oldest first, read with the batch's row in one statement, so that a
   * batch deleted meanwhile is not found rather than found without events.
   *
   * @throws BatchNotFoundException if no batch has this id
   */
  List<BatchEvent> list(Connection c, BatchId id) throws SQLException {
    String sql =
        "SELECT e.type, e.happened_at, e.detail FROM "
            + tables.batches
            + " b LEFT JOIN "
            + tables.batchEvents
            + " e ON e.batch_id = b.id WHERE b.id = ? ORDER BY e.id";
    List<BatchEvent> events = new ArrayList<>();
    boolean found = false;
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setUuid(ps, 1, id.value());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found = true;
          String type = rs.getString("type");
          if (type != null) { // null: the batch, without an event
            events.add(
                new BatchEvent(
                    id,
                    BatchEvent.Type.valueOf(type),
                    dialect.getInstant(rs, "happened_at"),
                    rs.getString("detail")));
          }
        }
      }
    }
    if (!found) {
      throw new BatchNotFoundException(id);
    }
    return events;
  }
}
