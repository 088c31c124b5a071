package io.batchkit.jdbc.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

/**
 * Where a batch's slots are counted per node: the rows of {@code <prefix>slots} (a node's slots of
 * one batch) and, beside them, the batch row's {@code slots_held} (their sum, which a claim checks
 * against the batch's limit). See {@link io.batchkit.spi.ClaimRequest} for what a slot is.
 *
 * <p>A claim grants slots (the claim's own statement adds them to {@code slots_held}; {@link
 * #granted} writes the node's row); the outcome of the last job a node runs in a slot gives it back
 * ({@link #release}, or the outcome statement of {@link PostgresSteps}); a node found dead loses
 * all of them ({@link #takeAllFrom}); and a node none of whose jobs of a batch is left running once
 * expired leases were taken back loses those of that batch ({@link #dropIdle}). Every one of these
 * runs under the batch row's lock, so a slot row needs no lock of its own and a claim that holds
 * the batch row sees every slot granted before it.
 */
final class Slots {
  private final Tables tables;
  private final Dialect dialect;
  private final BatchReads reads;

  Slots(Tables tables, BatchReads reads) {
    this.tables = tables;
    this.dialect = tables.dialect;
    this.reads = reads;
  }

  /**
   * Gives back up to the given number of {@code nodeId}'s slots of each batch (never below none),
   * for the outcomes of its jobs; the batch rows must be locked by this transaction.
   */
  void release(Connection c, String nodeId, Map<UUID, Integer> released) throws SQLException {
    Map<UUID, Integer> held = heldBy(c, nodeId, new ArrayList<>(new TreeMap<>(released).keySet()));
    Map<UUID, Integer> taken = new TreeMap<>();
    held.forEach((id, n) -> taken.put(id, Math.min(n, released.get(id))));
    lower(c, nodeId, taken);
  }

  /**
   * Records that {@code nodeId} was granted {@code granted} more slots of each batch; the claim's
   * statement has already added them to the batch rows, whose locks this transaction holds.
   */
  void granted(Connection c, String nodeId, Map<UUID, Integer> granted) throws SQLException {
    if (granted.isEmpty()) {
      return;
    }
    Map<UUID, Integer> sorted = new TreeMap<>(granted);
    String add =
        "UPDATE " + tables.slots + " SET held = held + ? WHERE batch_id = ? AND node_id = ?";
    List<UUID> missing = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(add)) {
      for (Map.Entry<UUID, Integer> e : sorted.entrySet()) {
        ps.setInt(1, e.getValue());
        dialect.setUuid(ps, 2, e.getKey());
        ps.setString(3, nodeId);
        if (ps.executeUpdate() == 0) {
          missing.add(e.getKey());
        }
      }
    }
    if (missing.isEmpty()) {
      return;
    }
    String insert = "INSERT INTO " + tables.slots + " (batch_id, node_id, held) VALUES (?, ?, ?)";
    try (PreparedStatement ps = c.prepareStatement(insert)) {
      for (UUID id : missing) {
        dialect.setUuid(ps, 1, id);
        ps.setString(2, nodeId);
        ps.setInt(3, sorted.get(id));
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /** Returns how many slots of {@code batchId} {@code nodeId} holds. */
  int heldBy(Connection c, String nodeId, UUID batchId) throws SQLException {
    return heldBy(c, nodeId, List.of(batchId)).getOrDefault(batchId, 0);
  }

  /** Returns the batches {@code nodeId} holds slots of. */
  List<UUID> batchesOf(Connection c, String nodeId) throws SQLException {
    List<UUID> ids = new ArrayList<>();
    try (PreparedStatement ps =
        c.prepareStatement("SELECT batch_id FROM " + tables.slots + " WHERE node_id = ?")) {
      ps.setString(1, nodeId);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          ids.add(dialect.getUuid(rs, "batch_id"));
        }
      }
    }
    return ids;
  }

  /**
   * Takes every slot {@code nodeId} holds away from it, for a node found dead; the rows of {@code
   * batchIds} ({@link #batchesOf}, read before) must be locked by this transaction.
   */
  void takeAllFrom(Connection c, String nodeId, List<UUID> batchIds) throws SQLException {
    if (!batchIds.isEmpty()) {
      lower(c, nodeId, heldBy(c, nodeId, batchIds));
    }
  }

  /**
   * Takes away the slots held by nodes that run none of the batch's jobs any more (after their
   * expired leases were taken back): of {@code batchIds}, whose rows this transaction has locked,
   * or of every batch if it is null (the rows are then locked here, and checked again).
   */
  void dropIdle(Connection c, List<UUID> batchIds) throws SQLException {
    if (batchIds == null) {
      Map<String, Map<UUID, Integer>> found = idle(c, null);
      if (!found.isEmpty()) {
        List<UUID> ids = new ArrayList<>();
        found.values().forEach(m -> ids.addAll(m.keySet()));
        reads.lockBatches(c, ids);
        dropIdle(c, ids);
      }
      return;
    }
    if (batchIds.isEmpty()) {
      return;
    }
    for (Map.Entry<String, Map<UUID, Integer>> e : idle(c, batchIds).entrySet()) {
      lower(c, e.getKey(), e.getValue());
    }
  }

  /** Node to batch to held slots: the slots of nodes that run no job of the batch. */
  private Map<String, Map<UUID, Integer>> idle(Connection c, List<UUID> batchIds)
      throws SQLException {
    Map<String, Map<UUID, Integer>> idle = new HashMap<>();
    String head = "SELECT s.batch_id, s.node_id, s.held FROM " + tables.slots + " s WHERE ";
    String tail =
        " AND NOT EXISTS (SELECT 1 FROM "
            + tables.jobs
            + " j WHERE j.batch_id = s.batch_id AND j.status = 'PROCESSING'"
            + " AND j.owner = s.node_id)";
    Tables.RowReader reader =
        rs ->
            idle.computeIfAbsent(rs.getString("node_id"), n -> new TreeMap<>())
                .put(dialect.getUuid(rs, "batch_id"), rs.getInt("held"));
    if (batchIds == null) {
      try (PreparedStatement ps = c.prepareStatement(head + "s.held > 0" + tail);
          ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          reader.read(rs);
        }
      }
    } else {
      tables.selectIn(c, batchIds, head + "s.batch_id IN (", ")" + tail, List.of(), reader);
    }
    return idle;
  }

  private Map<UUID, Integer> heldBy(Connection c, String nodeId, List<UUID> batchIds)
      throws SQLException {
    Map<UUID, Integer> held = new TreeMap<>();
    tables.selectIn(
        c,
        batchIds,
        "SELECT batch_id, held FROM " + tables.slots + " WHERE batch_id IN (",
        ") AND node_id = ?",
        List.of(nodeId),
        rs -> held.put(dialect.getUuid(rs, "batch_id"), rs.getInt("held")));
    return held;
  }

  /** Lowers the node's rows and the batches' sums by {@code taken}; removes rows left empty. */
  private void lower(Connection c, String nodeId, Map<UUID, Integer> taken) throws SQLException {
    taken.values().removeIf(n -> n <= 0);
    if (taken.isEmpty()) {
      return;
    }
    try (PreparedStatement slots =
            c.prepareStatement(
                "UPDATE "
                    + tables.slots
                    + " SET held = held - ? WHERE batch_id = ? AND node_id = ?");
        PreparedStatement batches =
            c.prepareStatement(
                "UPDATE " + tables.batches + " SET slots_held = slots_held - ? WHERE id = ?")) {
      for (Map.Entry<UUID, Integer> e : new TreeMap<>(taken).entrySet()) {
        slots.setInt(1, e.getValue());
        dialect.setUuid(slots, 2, e.getKey());
        slots.setString(3, nodeId);
        slots.addBatch();
        batches.setInt(1, e.getValue());
        dialect.setUuid(batches, 2, e.getKey());
        batches.addBatch();
      }
      slots.executeBatch();
      batches.executeBatch();
    }
    try (PreparedStatement ps =
        c.prepareStatement(
            "DELETE FROM " + tables.slots + " WHERE batch_id = ? AND node_id = ? AND held <= 0")) {
      for (UUID id : new TreeMap<>(taken).keySet()) {
        dialect.setUuid(ps, 1, id);
        ps.setString(2, nodeId);
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }
}
