package io.batchkit.jdbc.internal;

import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.JobStatus;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.SharedRateLimit;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Where claims are made: picks the batches a claim may take jobs from, in dispatch order (the time
 * a batch was last served, plus its priority rank times the request's aging step), and leases their
 * due jobs under a new fencing token. Exists so that the dispatch order and the claim's locking are
 * read in one place.
 *
 * <p>A claim reads the candidate batches in dispatch order without locks, then locks them the same
 * way as every other step (see {@link BatchReads}) and checks them again; it waits for a batch row
 * held by another node's step rather than skipping it, because skipping would hand out
 * lower-priority work while a higher-priority batch is busy for a moment. The exception is a claim
 * after outcomes in the same transaction, which locked the candidates they saw already: it passes
 * over a new candidate another transaction holds, as waiting could close a cycle.
 *
 * <p>On PostgreSQL all of it is one statement ({@link PostgresSteps#claim}), except a claim that
 * draws on rate buckets; the steps below are the portable form that H2 and MySQL/MariaDB run.
 */
final class Claims {
  private final Tables tables;
  private final Dialect dialect;
  private final BatchReads reads;
  private final RateBuckets buckets;

  /**
   * How many more candidate batches a claim that draws on rate buckets reads than it has slots for:
   * those whose bucket is empty are passed over, and the next ones in dispatch order may take the
   * slots.
   */
  private static final int RATE_LIMITED_LOOKAHEAD = 100;

  /** The one-statement claim, or null where the dialect has none. */
  private final PostgresSteps steps;

  /** Where each node's next fetch of a batch begins, with {@link #steps}. */
  private final FetchHints hints;

  Claims(Tables tables, BatchReads reads, PostgresSteps steps, FetchHints hints) {
    this.tables = tables;
    this.dialect = tables.dialect;
    this.reads = reads;
    this.steps = steps;
    this.hints = hints;
    this.buckets = new RateBuckets(tables);
  }

  /** The job types the request may claim any of, sorted. */
  static List<String> claimableTypes(ClaimRequest request) {
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
  List<UUID> candidates(Connection c, ClaimRequest request, List<String> types)
      throws SQLException {
    String pick =
        "SELECT id FROM "
            + tables.batches
            + " WHERE status = 'PROCESSING' AND slots_held < max_concurrency AND queued > "
            + BatchRow.fetchedAhead(tables, tables.batches)
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
      // batches whose rate bucket is empty are passed over: look further than the slots reach
      boolean rateLimited = types.stream().anyMatch(request.sharedRateLimits()::containsKey);
      ps.setInt(++i, rateLimited ? request.maxJobs() + RATE_LIMITED_LOOKAHEAD : request.maxJobs());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          order.add(dialect.getUuid(rs, "id"));
        }
      }
    }
    return order;
  }

  /**
   * Claims in the open transaction, as {@link io.batchkit.spi.JobStore#claim} says.
   *
   * @param types the job types the request may take any of, sorted
   * @param afterLocks whether the transaction holds batch rows already: the claim then passes over
   *     candidates other transactions hold rather than wait for them (see {@link
   *     PostgresSteps#claim})
   */
  List<ClaimedJob> claimIn(
      Connection c, ClaimRequest request, List<String> types, boolean afterLocks)
      throws SQLException {
    boolean rateLimited = types.stream().anyMatch(request.sharedRateLimits()::containsKey);
    if (steps != null && !rateLimited) {
      // (a claim that draws on rate buckets takes the steps below, which take tokens per batch)
      return steps.claim(
          c, dialect, request, types, Tables.reserveStamps(request.maxJobs() + 1), afterLocks);
    }
    // 1. the candidates in dispatch order, read without locks
    List<UUID> order = candidates(c, request, types);
    if (order.isEmpty()) {
      return List.of();
    }
    // 2. lock them in id order, like every other step, and wait rather than skip: skipping a batch
    // whose row another node holds for a moment would hand out lower-priority work first. After
    // outcomes in the same transaction, which locked the candidates they saw, a batch that became
    // one since may come before a row held already: one another transaction holds is passed over
    Map<UUID, BatchRow> locked = reads.lockBatches(c, order, afterLocks);
    List<Object[]> candidates = new ArrayList<>();
    Map<String, SharedRateLimit> limits = new HashMap<>();
    for (UUID id : order) {
      BatchRow row = locked.get(id);
      int free = row == null ? 0 : row.maxConcurrency - row.slotsHeld;
      // 3. the row may have changed between the read and the lock
      if (row != null
          && row.status == BatchStatus.PROCESSING
          && row.count(JobStatus.QUEUED) > 0
          && free > 0) {
        SharedRateLimit limit = request.sharedRateLimits().get(row.jobType);
        String key = limit == null ? null : limit.bucketKey(row.jobType, row.metadata);
        if (key != null) {
          limits.put(key, limit);
        }
        candidates.add(new Object[] {id, row.jobType, free, key});
      }
    }
    // the rate buckets those batches draw from, locked after the batch rows, in key order
    RateBuckets.Open tokens = buckets.open(c, limits, request.now());
    // 4. the due jobs of each batch in order (see takeJobs for their locks)
    List<ClaimedJob> claimed = new ArrayList<>();
    Map<String, Integer> takenPerType = new HashMap<>();
    for (Object[] candidate : candidates) {
      UUID batchId = (UUID) candidate[0];
      String type = (String) candidate[1];
      int room = request.maxJobs() - claimed.size();
      int typeRoom = request.limitFor(type) - takenPerType.getOrDefault(type, 0);
      int want = Math.min(room, Math.min(typeRoom, (Integer) candidate[2]));
      String key = (String) candidate[3];
      if (key != null) {
        want = Math.min(want, tokens.available(key));
      }
      if (room <= 0) {
        break;
      }
      if (want <= 0) {
        continue;
      }
      List<ClaimedJob> group = takeJobs(c, request, batchId, want, true);
      if (key != null) {
        tokens.take(key, group.size());
      }
      takenPerType.merge(type, group.size(), Integer::sum);
      claimed.addAll(group);
    }
    tokens.write(c);
    return claimed;
  }

  /**
   * Fetches jobs ahead, as {@link io.batchkit.spi.ClaimRequest} says: from the one batch with
   * queued jobs of the request's types, when the node holds a slot of it (after the grants of this
   * claim, which {@link Slots#granted} has recorded).
   */
  List<ClaimedJob> fetchAhead(Connection c, ClaimRequest request, Slots slots) throws SQLException {
    if (request.fetchAhead().values().stream().allMatch(n -> n == 0)) {
      return List.of();
    }
    Set<String> named = new TreeSet<>(request.jobTypes().keySet());
    named.addAll(request.fetchAhead().keySet());
    String only =
        "SELECT id, job_type FROM "
            + tables.batches
            + " WHERE status = 'PROCESSING' AND queued > "
            + BatchRow.fetchedAhead(tables, tables.batches)
            + " AND job_type IN ("
            + Tables.params(named.size())
            + ") LIMIT 2";
    List<UUID> found = new ArrayList<>();
    String type = null;
    try (PreparedStatement ps = c.prepareStatement(only)) {
      int i = 0;
      for (String t : named) {
        dialect.setKey(ps, ++i, t);
      }
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          found.add(dialect.getUuid(rs, "id"));
          type = dialect.getKey(rs, "job_type");
        }
      }
    }
    if (found.size() != 1 || request.fetchAheadFor(type) == 0) {
      return List.of();
    }
    UUID batchId = found.get(0);
    if (slots.heldBy(c, request.nodeId(), batchId) == 0) {
      return List.of();
    }
    if (steps != null) {
      // without the batch row's lock: the fetch writes the node's own row (see BatchRow). A slot
      // the node gives back meanwhile leaves the jobs with no slot to start in: the node gives
      // them back; a cancellation meanwhile finds them running, and their outcomes are cancelled
      return fetchFromHint(c, request, batchId, request.fetchAheadFor(type));
    }
    // this transaction may hold other batch rows already, not all of them before this one in id
    // order: so it takes this row only if no other transaction holds it, and else fetches nothing
    // this round (waiting could close a cycle with a step that locks in id order)
    BatchRow row = reads.lockBatchIfFree(c, batchId);
    if (row == null
        || row.status != BatchStatus.PROCESSING
        || row.count(JobStatus.QUEUED) == 0
        || slots.heldBy(c, request.nodeId(), batchId) == 0) {
      return List.of();
    }
    return takeJobs(c, request, batchId, request.fetchAheadFor(type), false);
  }

  /**
   * Leases up to {@code want} due jobs of a batch whose row this transaction has locked, in order,
   * and writes the batch's counters once; with {@code slots}, each job takes one of its slots.
   */
  private List<ClaimedJob> takeJobs(
      Connection c, ClaimRequest request, UUID batchId, int want, boolean slots)
      throws SQLException {
    // on H2 and MySQL no row locks are needed on the jobs: every step that changes a batch's queued
    // jobs holds the batch row, which this claim holds too (a FOR UPDATE here would make H2 lock
    // every queued job of the batch, not just the ones returned). On PostgreSQL a fetch ahead takes
    // queued jobs without the batch row (PostgresSteps#fetch): the claim locks the jobs it takes,
    // passing over those a fetch holds, as the fetch does
    String select =
        "SELECT id, payload, attempt, fencing_token FROM "
            + tables.jobs
            + " WHERE batch_id = ? AND status = 'QUEUED' AND run_at <= ?"
            + " ORDER BY seq LIMIT ?"
            + (steps != null ? " FOR UPDATE SKIP LOCKED" : "");
    List<ClaimedJob> group = new ArrayList<>(Math.min(want, 1_000));
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
                  Tables.nextStamp(rs.getLong("fencing_token")),
                  slots));
        }
      }
    }
    if (group.isEmpty()) {
      return group;
    }
    String lease =
        "UPDATE "
            + tables.jobs
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
            + tables.batches
            + " SET queued = queued - ?, processing = processing + ?, slots_held = slots_held + ?,"
            + " last_served_ms = ?, served_seq = ?, updated_at = ? WHERE id = ?";
    try (PreparedStatement ps = c.prepareStatement(served)) {
      ps.setLong(1, group.size());
      ps.setLong(2, group.size());
      ps.setInt(3, slots ? group.size() : 0);
      ps.setLong(4, request.now().toEpochMilli());
      ps.setLong(5, Tables.nextStamp(0));
      dialect.setInstant(ps, 6, request.now());
      dialect.setUuid(ps, 7, batchId);
      ps.executeUpdate();
    }
    return group;
  }

  /**
   * The one-statement fetch ({@link PostgresSteps#fetch}), from where the node's last fetch of the
   * batch ended while that is known to pass over no job ({@link FetchHints}); if it then finds
   * fewer than {@code want}, the rest comes from the head of the queue in a second statement, and
   * those jobs come first (in seq order but for jobs the first statement passed over as held, at a
   * batch's end). A hint is kept only from a fetch that found all it wanted: at a batch's end the
   * next fetch reads from the head, in one statement.
   */
  private List<ClaimedJob> fetchFromHint(Connection c, ClaimRequest request, UUID batchId, int want)
      throws SQLException {
    String node = request.nodeId();
    long epoch = hints.epoch(); // before the statement's snapshot: see FetchHints
    FetchHints.Hint hint = hints.current(node, batchId, request.now());
    List<ClaimedJob> fetched = new ArrayList<>();
    long fromSeq = hint == null ? 0 : hint.seq();
    long past = steps.fetch(c, dialect, request, batchId, want, fromSeq, fetched);
    if (fetched.size() == want) {
      hints.record(node, batchId, past, epoch, hint == null ? request.now() : hint.scannedAt());
      return fetched;
    }
    hints.forget(node, batchId); // short: at a batch's end, or jobs wait before the hint
    if (hint == null) {
      return fetched;
    }
    // jobs may wait before the hint (they came back, or fell due): they come first
    List<ClaimedJob> head = new ArrayList<>();
    steps.fetch(c, dialect, request, batchId, want - fetched.size(), 0, head);
    head.addAll(fetched);
    return head;
  }
}
