package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.JobStatus;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;

/**
 * The leases on running jobs: a node renews the leases it still holds ({@link #heartbeat}), and
 * jobs whose lease ran out are put back in the queue, failed or cancelled ({@link #requeueExpired})
 * through the same job transitions and batch settling as {@link Outcomes}. Exists so that
 * everything about a lease's time is found in one place.
 */
final class Leases {
  private final Tables tables;
  private final Dialect dialect;
  private final BatchReads reads;
  private final Outcomes outcomes;
  private final WorkNotifier notifier;

  Leases(Tables tables, BatchReads reads, Outcomes outcomes, WorkNotifier notifier) {
    this.tables = tables;
    this.dialect = tables.dialect;
    this.reads = reads;
    this.outcomes = outcomes;
    this.notifier = notifier;
  }

  HeartbeatResult heartbeat(
      Connection c, String nodeId, Map<JobId, Long> leases, Instant leaseUntil)
      throws SQLException {
    Map<UUID, Long> sorted = new TreeMap<>();
    leases.forEach((id, token) -> sorted.put(id.value(), token));
    String renew =
        "UPDATE "
            + tables.jobs
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
            + tables.jobs
            + " j JOIN "
            + tables.batches
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
  }

  CompletionResult requeueExpired(Connection c, Instant now, int maxJobs) throws SQLException {
    String find =
        "SELECT id, batch_id FROM "
            + tables.jobs
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
    Map<UUID, BatchRow> rows = reads.lockBatches(c, new HashSet<>(candidates.values()));
    Map<UUID, Outcomes.JobLock> expired = outcomes.lockJobs(c, candidates.keySet(), now);
    Outcomes.Transitions transitions = outcomes.transitions(now);
    Map<UUID, BatchRow> touched = new LinkedHashMap<>();
    boolean requeued = false;
    for (Map.Entry<UUID, Outcomes.JobLock> entry : new TreeMap<>(expired).entrySet()) {
      Outcomes.JobLock job = entry.getValue();
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
    List<Batch> snapshots = outcomes.settle(c, touched.values(), now);
    if (requeued) {
      notifier.notifyWork(c);
    }
    return new CompletionResult(Set.of(), snapshots);
  }
}
