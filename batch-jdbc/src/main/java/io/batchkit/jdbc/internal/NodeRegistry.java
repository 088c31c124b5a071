package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.Node;
import io.batchkit.spi.CompletionResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * The registry of nodes ({@code <prefix>nodes}) and the finding of dead ones: where a node is
 * registered, reported and deregistered, and where the jobs of a node that died are taken back
 * (through {@link Leases}). Exists so that "how does a killed node's work come back" is read in one
 * file; the locks that say a node is alive are held by {@link LivenessSession}.
 *
 * <h2>Finding dead nodes</h2>
 *
 * On a store with session locks, {@link #findDead} reads the live rows whose lock no session holds.
 * A node seen so is a <em>suspect</em>; one still seen so {@link #GRACE_NANOS} later, by this store
 * instance's clock, is dead: {@link #reap} marks it {@code DEAD}, under the same condition in the
 * same statement so that a node that took its lock again in between is spared, and takes its jobs
 * back. The grace lets a node whose lock connection broke for a moment take its locks again (it
 * checks every quarter of a second) before anyone gives its jobs away. Nodes registered through
 * this store instance are never suspects: their process is this one, which is alive; and a store
 * instance whose own session broke judges nobody until it holds its locks again, since the others'
 * sessions may have ended with its own (a database restart). Rows without a lock (key 0: a store
 * without session locks, or a node with {@code sessionLiveness(false)}) are never suspects either:
 * {@link #maintain} marks them dead when their heartbeat is old and takes nothing back, so their
 * jobs wait for their leases.
 *
 * <p>Ownership: {@link #suspects} and {@link #lastMaintenanceNanos} are guarded by this object's
 * monitor; the statements run on the connection they are given.
 */
final class NodeRegistry {
  /** How long a node's lock must stay free before the node counts as dead. */
  static final long GRACE_NANOS = TimeUnit.MILLISECONDS.toNanos(700);

  /** How often stale rows are marked and old ones removed. */
  private static final long MAINTENANCE_NANOS = TimeUnit.SECONDS.toNanos(5);

  private static final String COLUMNS =
      "node_id, host, version, slots, running, started_at, last_heartbeat, status, ended_at,"
          + " lock_key, succeeded_hour, failed_hour";

  private final Tables tables;
  private final Dialect dialect;
  private final LivenessSession session;
  private final Leases leases;
  private final String nodes;

  /** Node id to when its free lock was first seen, and under which key. */
  private final Map<String, Suspect> suspects = new HashMap<>();

  private long lastMaintenanceNanos = System.nanoTime() - MAINTENANCE_NANOS;

  private record Suspect(int key, long sinceNanos) {}

  /** A node found dead: its id and the lock key it had. */
  record Dead(String nodeId, int key) {}

  NodeRegistry(Tables tables, LivenessSession session, Leases leases) {
    this.tables = tables;
    this.dialect = tables.dialect;
    this.session = session;
    this.leases = leases;
    this.nodes = tables.nodes;
  }

  /**
   * Fails if a live node holds {@code nodeId}'s lock; on a store without locks, checks nothing.
   *
   * @throws IllegalStateException if it does
   */
  void checkFree(Connection c, String nodeId) throws SQLException {
    if (!session.hasLocks()) {
      return;
    }
    String sql =
        "SELECT n.node_id FROM "
            + nodes
            + " n WHERE n.node_id = ? AND n.status = 'LIVE' AND n.lock_key <> 0 AND "
            + dialect.nodeLockHeld(tables.prefix, "n.lock_key");
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, nodeId);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          throw new IllegalStateException(
              "node id '" + nodeId + "' is in use by a live node, which holds its lock");
        }
      }
    }
  }

  /**
   * Writes the row of a node that starts, replacing a former one's, and takes back the jobs its
   * former self still holds.
   */
  CompletionResult register(Connection c, Node node, int key) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + nodes + " WHERE node_id = ?")) {
      ps.setString(1, node.nodeId());
      ps.executeUpdate();
    }
    insert(c, node, key);
    return leases.takeBackFrom(
        c, List.of(node.nodeId()), owner -> "node " + owner + " started again", node.startedAt());
  }

  /** Updates a node's row from {@code node}; returns whether the row was live before. */
  boolean heartbeat(Connection c, Node node, int key) throws SQLException {
    String status = null;
    try (PreparedStatement ps =
        c.prepareStatement("SELECT status FROM " + nodes + " WHERE node_id = ? FOR UPDATE")) {
      ps.setString(1, node.nodeId());
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) {
          status = rs.getString(1);
        }
      }
    }
    if (status == null) {
      insert(c, node, key);
      return false;
    }
    String sql =
        "UPDATE "
            + nodes
            + " SET host = ?, version = ?, slots = ?, running = ?, last_heartbeat = ?,"
            + " status = 'LIVE', ended_at = NULL, lock_key = ?, succeeded_hour = ?,"
            + " failed_hour = ? WHERE node_id = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      tables.bind(
          ps,
          List.of(
              node.host(),
              node.version(),
              node.slots(),
              node.running(),
              node.lastHeartbeat(),
              key,
              node.succeededLastHour(),
              node.failedLastHour(),
              node.nodeId()));
      ps.executeUpdate();
    }
    return Node.Status.LIVE.name().equals(status);
  }

  /** Sets the lock key of nodes whose lock was taken again under a new key. */
  void updateKeys(Connection c, Map<String, Integer> keys) throws SQLException {
    try (PreparedStatement ps =
        c.prepareStatement("UPDATE " + nodes + " SET lock_key = ? WHERE node_id = ?")) {
      for (Map.Entry<String, Integer> entry : keys.entrySet()) {
        ps.setInt(1, entry.getValue());
        ps.setString(2, entry.getKey());
        ps.addBatch();
      }
      ps.executeBatch();
    }
  }

  /** Marks a live node stopped. */
  void deregister(Connection c, String nodeId, Instant now) throws SQLException {
    String sql =
        "UPDATE "
            + nodes
            + " SET status = 'STOPPED', ended_at = ? WHERE node_id = ? AND status = 'LIVE'";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      tables.bind(ps, List.of(now, nodeId));
      ps.executeUpdate();
    }
  }

  /**
   * The jobs that succeeded and failed for good in the last hour by the reports of the nodes that
   * reported since {@code hourAgo}.
   */
  long[] endedLastHour(Connection c, Instant hourAgo) throws SQLException {
    String sql =
        "SELECT COALESCE(SUM(succeeded_hour), 0), COALESCE(SUM(failed_hour), 0) FROM "
            + nodes
            + " WHERE last_heartbeat >= ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setInstant(ps, 1, hourAgo);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return new long[] {rs.getLong(1), rs.getLong(2)};
      }
    }
  }

  /** Reads every row: live ones first, then by node id. */
  List<Node> list(Connection c) throws SQLException {
    List<Node> all = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement("SELECT " + COLUMNS + " FROM " + nodes);
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        Instant started = dialect.getInstant(rs, "started_at");
        Instant heartbeat = dialect.getInstant(rs, "last_heartbeat");
        all.add(
            new Node(
                rs.getString("node_id"),
                rs.getString("host"),
                rs.getString("version"),
                rs.getInt("slots"),
                rs.getInt("running"),
                started,
                heartbeat.isBefore(started) ? started : heartbeat,
                Node.Status.valueOf(rs.getString("status")),
                Optional.ofNullable(dialect.getInstant(rs, "ended_at")),
                rs.getLong("succeeded_hour"),
                rs.getLong("failed_hour")));
      }
    }
    all.sort(Comparator.comparing((Node n) -> !n.isLive()).thenComparing(Node::nodeId));
    return all;
  }

  /**
   * Reads the live nodes whose lock no session holds, notes them as suspects, and returns those
   * that have been suspects for the grace period; for stores with session locks.
   */
  List<Dead> findDead(Connection c) throws SQLException {
    if (!session.isHealthy()) {
      return List.of(); // this process's own session broke: others' may have ended with it
    }
    String sql =
        "SELECT n.node_id, n.lock_key FROM "
            + nodes
            + " n WHERE n.status = 'LIVE' AND n.lock_key <> 0 AND NOT "
            + dialect.nodeLockHeld(tables.prefix, "n.lock_key");
    Map<String, Integer> free = new HashMap<>();
    try (PreparedStatement ps = c.prepareStatement(sql);
        ResultSet rs = ps.executeQuery()) {
      while (rs.next()) {
        String id = rs.getString("node_id");
        if (!session.isLocal(id)) {
          free.put(id, rs.getInt("lock_key"));
        }
      }
    }
    long now = System.nanoTime();
    List<Dead> dead = new ArrayList<>();
    synchronized (this) {
      suspects.keySet().retainAll(free.keySet());
      for (Map.Entry<String, Integer> entry : free.entrySet()) {
        Suspect seen = suspects.get(entry.getKey());
        if (seen == null || seen.key() != entry.getValue()) {
          suspects.put(entry.getKey(), new Suspect(entry.getValue(), now));
        } else if (now - seen.sinceNanos() >= GRACE_NANOS) {
          dead.add(new Dead(entry.getKey(), entry.getValue()));
        }
      }
    }
    return dead;
  }

  /**
   * Marks the nodes dead whose lock is still free, and takes back the jobs all of them hold. The
   * node rows are marked in node id order (two store instances reaping the same nodes take their
   * rows in one order), and the jobs taken back in one pass over every marked node, which locks all
   * their batch rows before any job row.
   */
  CompletionResult reap(Connection c, List<Dead> dead, Instant now) throws SQLException {
    String sql =
        "UPDATE "
            + nodes
            + " SET status = 'DEAD', ended_at = ? WHERE node_id = ? AND lock_key = ?"
            + " AND status = 'LIVE' AND lock_key <> 0 AND NOT "
            + dialect.nodeLockHeld(tables.prefix, "lock_key");
    List<Dead> inOrder = new ArrayList<>(dead);
    inOrder.sort(Comparator.comparing(Dead::nodeId));
    List<String> marked = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (Dead node : inOrder) {
        tables.bind(ps, List.of(now, node.nodeId(), node.key()));
        if (ps.executeUpdate() == 1) {
          marked.add(node.nodeId());
        }
      }
    }
    List<Batch> taken =
        marked.isEmpty()
            ? List.of()
            : leases.takeBackFrom(c, marked, owner -> "node " + owner + " died", now).batches();
    synchronized (this) {
      dead.forEach(node -> suspects.remove(node.nodeId()));
    }
    return new CompletionResult(Set.of(), taken);
  }

  /** Whether stale rows are due to be marked and old ones removed; at most every 5 s. */
  synchronized boolean maintenanceDue() {
    long now = System.nanoTime();
    if (now - lastMaintenanceNanos < MAINTENANCE_NANOS) {
      return false;
    }
    lastMaintenanceNanos = now;
    return true;
  }

  /**
   * Marks dead the live nodes without a lock (on a store without session locks, every node; on one
   * with them, nodes that run with {@code sessionLiveness(false)}), other than those registered
   * through this store instance, whose last heartbeat is before {@code staleBefore}; then removes
   * the rows of nodes that ended before {@code forgetBefore}. Their jobs wait for their leases.
   */
  void maintain(Connection c, Instant now, Instant staleBefore, Instant forgetBefore)
      throws SQLException {
    Set<String> stale = new HashSet<>();
    String find =
        "SELECT node_id FROM "
            + nodes
            + " WHERE status = 'LIVE' AND last_heartbeat < ?"
            + (session.hasLocks() ? " AND lock_key = 0" : "");
    try (PreparedStatement ps = c.prepareStatement(find)) {
      tables.bind(ps, List.of(staleBefore));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          stale.add(rs.getString(1));
        }
      }
    }
    stale.removeIf(session::isLocal);
    if (!stale.isEmpty()) {
      String mark =
          "UPDATE "
              + nodes
              + " SET status = 'DEAD', ended_at = ? WHERE node_id = ? AND status = 'LIVE'"
              + " AND last_heartbeat < ?";
      try (PreparedStatement ps = c.prepareStatement(mark)) {
        for (String id : stale) {
          tables.bind(ps, List.of(now, id, staleBefore));
          ps.addBatch();
        }
        ps.executeBatch();
      }
    }
    try (PreparedStatement ps =
        c.prepareStatement("DELETE FROM " + nodes + " WHERE status <> 'LIVE' AND ended_at < ?")) {
      tables.bind(ps, List.of(forgetBefore));
      ps.executeUpdate();
    }
  }

  private void insert(Connection c, Node node, int key) throws SQLException {
    String sql =
        "INSERT INTO "
            + nodes
            + " ("
            + COLUMNS
            + ") VALUES (?, ?, ?, ?, ?, ?, ?, 'LIVE', NULL, ?, ?, ?)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      tables.bind(
          ps,
          List.of(
              node.nodeId(),
              node.host(),
              node.version(),
              node.slots(),
              node.running(),
              node.startedAt(),
              node.lastHeartbeat(),
              key,
              node.succeededLastHour(),
              node.failedLastHour()));
      ps.executeUpdate();
    }
  }
}
