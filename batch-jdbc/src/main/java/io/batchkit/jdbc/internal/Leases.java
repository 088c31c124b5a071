package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobProgress;
import io.batchkit.JobStatus;
import io.batchkit.internal.util.AttemptRecords;
import io.batchkit.internal.util.Ids;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.JobStoreException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
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
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The leases on running jobs: a node renews the leases it still holds ({@link #heartbeat}), and
 * jobs whose lease ran out ({@link #requeueExpired}) or whose node died ({@link #takeBackFrom}, for
 * {@link NodeRegistry}) are put back in the queue, failed or cancelled through the same job
 * transitions and batch settling as {@link Outcomes}. Exists so that everything about a lease's
 * time, and about taking a job back from its node, is found in one place.
 */
final class Leases {
  private static final Logger LOG = LoggerFactory.getLogger(Leases.class);

  private final Tables tables;
  private final Dialect dialect;
  private final BatchReads reads;
  private final Outcomes outcomes;
  private final WorkNotifier notifier;
  private final Slots slots;

  /**
   * Whether a renewal passes over job rows another transaction holds instead of waiting for them
   * ({@link #heartbeat}): with {@link PostgresSteps}, whose outcome statement takes its job rows in
   * no set order (holding their batches' rows, which a renewal does not take), a renewal that
   * waited for one of them while holding another could close a cycle with it.
   */
  private final boolean skipHeldRows;

  /** What a renewal did: its answer for the jobs it did not pass over, and those it passed over. */
  private record Renewal(HeartbeatResult result, Set<JobId> passedOver) {}

  private final Transactions tx;

  /**
   * @param skipHeldRows true with {@link PostgresSteps}: see {@link #skipHeldRows}
   */
  Leases(
      Tables tables,
      Transactions tx,
      BatchReads reads,
      Outcomes outcomes,
      WorkNotifier notifier,
      Slots slots,
      boolean skipHeldRows) {
    this.slots = slots;
    this.skipHeldRows = skipHeldRows;
    this.tx = tx;
    this.tables = tables;
    this.dialect = tables.dialect;
    this.reads = reads;
    this.outcomes = outcomes;
    this.notifier = notifier;
  }

  /**
   * Renews the leases, and stores with each renewed job the progress it reported ({@code progress},
   * by job id), marked with its fencing token so that a later attempt does not show it: the SPI's
   * heartbeat, in one transaction, unless {@link #skipHeldRows}. Then that transaction passes over
   * the jobs whose rows another transaction holds (recording their outcomes, or taking them back)
   * while the committed rows still show them as this node's. In turn, one of those is renewed
   * alone, in a transaction of its own that holds no other row while it waits for that one, and the
   * rest in one more pass over, until none is left: the answer is the one waiting would have given,
   * in one more transaction per holder when the holders are few, and at most two per job passed
   * over. If one of those later transactions fails, the jobs not yet renewed are left out of the
   * answer (their leases stand as they were) instead of losing what the first one found.
   */
  HeartbeatResult heartbeat(
      String nodeId,
      Map<JobId, Long> leases,
      Instant leaseUntil,
      Map<JobId, JobProgress> progress) {
    Renewal renewal =
        tx.run("heartbeat", c -> renew(c, nodeId, leases, leaseUntil, progress, false));
    Set<JobId> lost = new HashSet<>(renewal.result().lost());
    Set<JobId> cancel = new HashSet<>(renewal.result().cancelRequested());
    Set<JobId> left = renewal.passedOver();
    boolean alone = true;
    while (!left.isEmpty()) {
      Set<JobId> these = alone ? Set.of(left.iterator().next()) : left;
      Map<JobId, Long> some = new HashMap<>();
      Map<JobId, JobProgress> reports = new HashMap<>();
      for (JobId id : these) {
        some.put(id, leases.get(id));
        if (progress.containsKey(id)) {
          reports.put(id, progress.get(id));
        }
      }
      boolean waits = alone;
      Renewal next;
      try {
        next = tx.run("heartbeat", c -> renew(c, nodeId, some, leaseUntil, reports, waits));
      } catch (JobStoreException e) {
        LOG.warn("could not renew {} leases another transaction held; they stand", left.size(), e);
        break;
      }
      lost.addAll(next.result().lost());
      cancel.addAll(next.result().cancelRequested());
      Set<JobId> rest = new HashSet<>(left);
      rest.removeAll(these);
      rest.addAll(next.passedOver());
      left = rest;
      alone = !alone;
    }
    return new HeartbeatResult(lost, cancel);
  }

  /**
   * Renews the leases in the caller's transaction; with {@link #skipHeldRows}, unless {@code alone}
   * (then it waits for the rows), passes over the jobs whose rows another transaction holds, and
   * says which.
   */
  private Renewal renew(
      Connection c,
      String nodeId,
      Map<JobId, Long> leases,
      Instant leaseUntil,
      Map<JobId, JobProgress> progress,
      boolean alone)
      throws SQLException {
    Map<UUID, Long> sorted = new TreeMap<>(Ids.STORE_ORDER);
    leases.forEach((id, token) -> sorted.put(id.value(), token));
    Set<UUID> renewable = sorted.keySet();
    if (skipHeldRows && !alone) {
      Set<UUID> locked = new HashSet<>();
      tables.selectIn(
          c,
          new ArrayList<>(sorted.keySet()),
          "SELECT id FROM " + tables.jobs + " WHERE id IN (",
          ") FOR UPDATE SKIP LOCKED",
          List.of(),
          rs -> locked.add(dialect.getUuid(rs, "id")));
      renewable = locked;
    }
    String where = " WHERE id = ? AND fencing_token = ? AND owner = ? AND status = 'PROCESSING'";
    // with progress, one statement still renews every row, so that the rows are locked in id
    // order (on PostgreSQL they are held already); a flag says whether a row has a report
    String sql =
        progress.isEmpty()
            ? "UPDATE " + tables.jobs + " SET lease_until = ?" + where
            : "UPDATE "
                + tables.jobs
                + " SET lease_until = ?,"
                + " progress = CASE WHEN ? = 1 THEN ? ELSE progress END,"
                + " progress_message = CASE WHEN ? = 1 THEN ? ELSE progress_message END,"
                + " progress_at = CASE WHEN ? = 1 THEN ? ELSE progress_at END,"
                + " progress_token = CASE WHEN ? = 1 THEN fencing_token ELSE progress_token END"
                + where;
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (Map.Entry<UUID, Long> entry : sorted.entrySet()) {
        if (!renewable.contains(entry.getKey())) {
          continue;
        }
        int i = 0;
        dialect.setInstant(ps, ++i, leaseUntil);
        if (!progress.isEmpty()) {
          JobProgress p = progress.get(new JobId(entry.getKey()));
          int flag = p == null ? 0 : 1;
          ps.setInt(++i, flag);
          ps.setDouble(++i, p == null ? 0 : p.fraction());
          ps.setInt(++i, flag);
          ps.setString(++i, p == null ? null : p.message().orElse(null));
          ps.setInt(++i, flag);
          dialect.setInstant(ps, ++i, p == null ? null : p.reportedAt());
          ps.setInt(++i, flag);
        }
        dialect.setUuid(ps, ++i, entry.getKey());
        ps.setLong(++i, entry.getValue());
        ps.setString(++i, nodeId);
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
    Set<JobId> passedOver = new HashSet<>();
    for (UUID id : ids) {
      Boolean batchFinal = held.get(id);
      if (batchFinal == null) {
        // gone, or another claim's: no transaction can give this token back, held row or not
        lost.add(new JobId(id));
      } else if (!renewable.contains(id)) {
        passedOver.add(new JobId(id)); // still this node's, as far as committed rows tell
      } else if (batchFinal) {
        cancel.add(new JobId(id));
      }
    }
    return new Renewal(new HeartbeatResult(lost, cancel), passedOver);
  }

  /**
   * Takes back up to {@code maxJobs} jobs whose lease expired, leaving alone those of nodes that
   * still hold their session lock ({@code aliveCondition}: alive, only slow).
   *
   * @param aliveCondition SQL on the job row {@code j} that holds when its owner is alive by its
   *     session lock, or null on a store without session locks
   * @param aliveArgs the parameters of {@code aliveCondition}
   */
  CompletionResult requeueExpired(
      Connection c, Instant now, int maxJobs, String aliveCondition, List<Object> aliveArgs)
      throws SQLException {
    String find =
        "SELECT j.id, j.batch_id FROM "
            + tables.jobs
            + " j WHERE j.status = 'PROCESSING' AND j.lease_until < ?"
            + (aliveCondition == null ? "" : " AND NOT " + aliveCondition)
            + " ORDER BY j.lease_until LIMIT ?";
    List<Object> args = new ArrayList<>();
    args.add(now);
    args.addAll(aliveArgs);
    Map<UUID, UUID> candidates = find(c, find, args, maxJobs);
    return takeBack(
        c,
        candidates,
        "status = 'PROCESSING' AND lease_until < ?",
        List.of(now),
        AttemptRecords::leaseExpired,
        now);
  }

  /**
   * Takes back every job that the nodes of {@code nodeIds} still hold, in groups, and their slots;
   * {@code why} gives the error text from a node's id. Every batch row this takes, for any of the
   * nodes, is locked first in one pass in id order, so that taking back from several nodes never
   * locks a batch row after a job row (a cycle with an outcome statement covering two of their
   * batches).
   */
  CompletionResult takeBackFrom(
      Connection c, Collection<String> nodeIds, UnaryOperator<String> why, Instant now)
      throws SQLException {
    String find =
        "SELECT j.id, j.batch_id FROM "
            + tables.jobs
            + " j WHERE j.status = 'PROCESSING' AND j.owner = ? ORDER BY j.id LIMIT ?";
    Map<String, List<UUID>> slotted = new LinkedHashMap<>();
    Set<UUID> rows = new TreeSet<>();
    try (PreparedStatement ps =
        c.prepareStatement(
            "SELECT DISTINCT batch_id FROM "
                + tables.jobs
                + " WHERE status = 'PROCESSING' AND owner = ?")) {
      for (String nodeId : nodeIds) {
        List<UUID> batches = slots.batchesOf(c, nodeId);
        slotted.put(nodeId, batches);
        rows.addAll(batches);
        ps.setString(1, nodeId);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            rows.add(dialect.getUuid(rs, "batch_id"));
          }
        }
      }
    }
    reads.lockBatches(c, rows);
    List<Batch> snapshots = new ArrayList<>();
    for (Map.Entry<String, List<UUID>> node : slotted.entrySet()) {
      List<Object> owner = List.of(node.getKey());
      Map<UUID, UUID> candidates;
      while (!(candidates = find(c, find, owner, Tables.IN_LIST_LIMIT)).isEmpty()) {
        CompletionResult taken =
            takeBack(c, candidates, "status = 'PROCESSING' AND owner = ?", owner, why, now);
        if (taken.batches().isEmpty()) {
          break; // found but not taken (their batch is gone): the next pass would find them again
        }
        snapshots.addAll(taken.batches());
      }
      slots.takeAllFrom(c, node.getKey(), node.getValue());
    }
    return new CompletionResult(Set.of(), snapshots);
  }

  /** Runs {@code find} with {@code args} and a limit; returns job id to batch id, in its order. */
  private Map<UUID, UUID> find(Connection c, String find, List<Object> args, int maxJobs)
      throws SQLException {
    Map<UUID, UUID> candidates = new LinkedHashMap<>();
    try (PreparedStatement ps = c.prepareStatement(find)) {
      List<Object> all = new ArrayList<>(args);
      all.add(Math.min(maxJobs, Tables.IN_LIST_LIMIT));
      tables.bind(ps, all);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          candidates.put(dialect.getUuid(rs, "id"), dialect.getUuid(rs, "batch_id"));
        }
      }
    }
    return candidates;
  }

  /**
   * Takes back the {@code candidates} (job id to batch id) that still meet {@code condition} once
   * locked: each is queued again if it has attempts left, failed otherwise, or cancelled if its
   * batch has a final status; its attempt stays counted.
   */
  private CompletionResult takeBack(
      Connection c,
      Map<UUID, UUID> candidates,
      String condition,
      List<Object> args,
      UnaryOperator<String> why,
      Instant now)
      throws SQLException {
    if (candidates.isEmpty()) {
      return new CompletionResult(Set.of(), List.of());
    }
    Map<UUID, BatchRow> rows = reads.lockBatches(c, new HashSet<>(candidates.values()));
    Map<UUID, Outcomes.JobLock> taken = outcomes.lockJobs(c, candidates.keySet(), condition, args);
    Outcomes.Transitions transitions = outcomes.transitions(now);
    Map<UUID, BatchRow> touched = new LinkedHashMap<>();
    List<AttemptLog.Entry> lost = new ArrayList<>();
    boolean requeued = false;
    for (Map.Entry<UUID, Outcomes.JobLock> entry : new TreeMap<>(taken).entrySet()) {
      Outcomes.JobLock job = entry.getValue();
      BatchRow row = rows.get(job.batchId);
      if (row == null) {
        continue;
      }
      String error = why.apply(job.owner);
      JobStatus to;
      if (row.status.isFinal()) {
        transitions.cancelled(entry.getKey(), job.startedAt);
        to = JobStatus.CANCELLED;
      } else if (job.attempt < row.maxAttempts) {
        transitions.expiredRetry(entry.getKey(), error, job.startedAt);
        lost.add(job.ending(entry.getKey(), job.startedAt, JobAttempt.Outcome.LEASE_LOST, error));
        to = JobStatus.QUEUED;
        requeued = true;
      } else {
        error += " and no attempt is left";
        transitions.failed(entry.getKey(), error, job.startedAt);
        lost.add(job.ending(entry.getKey(), job.startedAt, JobAttempt.Outcome.LEASE_LOST, error));
        to = JobStatus.FAILED;
      }
      row.move(JobStatus.PROCESSING, to, 1);
      touched.put(row.id, row);
    }
    outcomes.attempts.record(c, lost, now);
    transitions.execute(c);
    // a node none of whose jobs of a batch is left running holds none of its slots
    slots.dropIdle(c, new ArrayList<>(touched.keySet()));
    List<Batch> snapshots = outcomes.settle(c, touched.values(), now);
    if (requeued) {
      notifier.notifyWork(c);
    }
    return new CompletionResult(Set.of(), snapshots);
  }
}
