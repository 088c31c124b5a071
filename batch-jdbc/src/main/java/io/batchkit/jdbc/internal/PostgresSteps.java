package io.batchkit.jdbc.internal;

import io.batchkit.BatchId;
import io.batchkit.JobId;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * The claim and the recording of outcomes on PostgreSQL, each as <em>one</em> statement: a
 * data-modifying CTE that locks, picks, updates the jobs, writes each batch's counters once and
 * returns what changed. A batch row is then held for one statement's server time and the commit,
 * not across the five to ten client round trips of the portable steps ({@link Claims}, {@link
 * Outcomes}), which H2 and MySQL/MariaDB still use: MySQL has no {@code UPDATE ... RETURNING}, and
 * H2 locks every row its {@code LIMIT ... FOR UPDATE} reads.
 *
 * <p>Both statements keep the portable steps' rules and take batch rows first, in id order, then
 * job rows, except the optimistic form of the outcome statement (below). The outcome statement
 * takes its job rows in whatever order its plan visits them, without locking them first in id order
 * (measured: 0.90 of the time on 100,000 no-op jobs): every other step that may wait for a job row
 * holds that job's batch row first, so it queues on the batch row instead, and the lease renewal,
 * which holds no batch row, passes over job rows others hold ({@link Leases}).
 *
 * <p>The optimistic form of the outcome statement (see {@link #complete}) takes its one batch row
 * last, to update the counters. Two of them never wait on each other in a cycle (their job rows
 * differ: a job has one current token), but a step that holds the batch row and then waits for one
 * of the statement's job rows does close one: taking back expired leases or a dead node's jobs
 * ({@link Leases}) as those jobs' outcomes arrive; a locking outcome statement that reports a job
 * again with an older token after it was taken back and claimed anew; {@code retryFailed} or {@code
 * retryJobs} queueing a job that a late outcome statement, racing the take-back that failed it,
 * still holds (an update that finds its row changed locks the newest version before it rechecks its
 * condition). ({@code retryJobs} reads its jobs' rows without a lock, so a running job's id given
 * to it closes none.) All are rare, and PostgreSQL breaks each after {@code deadlock_timeout} (a
 * second by default) by rolling one of the two back, which {@link Transactions} runs again.
 *
 * <p>The third, {@link #fetch}, locks no batch row: it takes queued job rows with {@code SKIP
 * LOCKED}, so it never waits, and counts them in its node's row of fetched jobs (see {@link
 * BatchRow}). Under READ COMMITTED a row locked with {@code FOR UPDATE} is re-read at its newest
 * version and its conditions checked again, so the counters and the free slots a claim sees are
 * current, whatever committed while it waited for the lock; jobs another claim took in the meantime
 * fail the {@code status = 'QUEUED'} re-check and are passed over, and {@code LIMIT} keeps reading.
 * The arguments travel as arrays, so that each statement has one text whatever its size and stays
 * prepared on the server.
 */
final class PostgresSteps {
  private final String claimSql;
  private final String claimAfterLocksSql;
  private final String completeSql;
  private final String completeOptimisticSql;
  private final String completeAndLockSql;
  private final String fetchSql;

  /**
   * @param tables the store's tables; among them the sequence the fencing tokens come from (a stamp
   *     reserved in this JVM before the statement waits for its locks could be overtaken by a newer
   *     claim's, so only a value drawn under the lock is unique and greater than the job's last
   *     token), the slots each node holds ({@link Slots}), the attempt history ({@link AttemptLog})
   *     and the jobs each node fetched ahead ({@link BatchRow})
   */
  PostgresSteps(Tables tables) {
    String batches = tables.batches;
    String jobs = tables.jobs;
    String tokens = tables.fencingTokens;
    String slots = tables.slots;
    String attempts = tables.jobAttempts;
    String claim =
        """
        WITH cand AS (
          SELECT id FROM %1$s cb
          WHERE status = 'PROCESSING' AND queued > %4$s AND slots_held < max_concurrency
            AND job_type = ANY(?)
          ORDER BY priority * ?::bigint + last_served_ms, served_seq, id
          LIMIT ?
        ), locked AS MATERIALIZED (
          SELECT b.id, b.job_type, b.max_concurrency - b.slots_held AS free,
                 b.priority * ?::bigint + b.last_served_ms AS k1, b.served_seq AS k2
          FROM %1$s b
          WHERE b.id IN (SELECT id FROM cand)
            AND b.status = 'PROCESSING' AND b.queued > 0 AND b.slots_held < b.max_concurrency
          ORDER BY b.id
          FOR UPDATE%5$s
        ), ranked AS (
          SELECT l.*, row_number() OVER (ORDER BY k1, k2, id) AS ord FROM locked l
        ), picked AS (
          SELECT q.id, r.id AS batch_id, r.job_type, r.ord, q.seq
          FROM ranked r
          CROSS JOIN LATERAL (
            SELECT j.id, j.seq FROM %2$s j
            WHERE j.batch_id = r.id AND j.status = 'QUEUED' AND j.run_at <= ?
            ORDER BY j.seq
            LIMIT LEAST(r.free, ?)
            FOR UPDATE SKIP LOCKED
          ) q
        ), typed AS (
          SELECT p.*, row_number() OVER (PARTITION BY p.job_type ORDER BY p.ord, p.seq) AS n_type
          FROM picked p
        ), chosen AS (
          SELECT t.id, t.ord, t.seq, row_number() OVER (ORDER BY t.ord, t.seq) AS n_all
          FROM typed t JOIN unnest(?::text[], ?::int[]) AS lim(job_type, most)
            ON lim.job_type = t.job_type
          WHERE t.n_type <= lim.most
        ), upd AS (
          UPDATE %2$s j
          SET status = 'PROCESSING', attempt = j.attempt + 1,
              fencing_token = GREATEST(j.fencing_token + 1, nextval('%3$s')),
              owner = ?, lease_until = ?, started_at = ?, updated_at = ?, error = NULL
          FROM chosen c
          WHERE j.id = c.id AND c.n_all <= ?
          RETURNING j.id, j.batch_id, j.payload, j.attempt, j.fencing_token, c.ord, c.seq
        ), counted AS (
          SELECT batch_id, min(ord) AS ord, count(*) AS n FROM upd GROUP BY batch_id
        ), served AS (
          UPDATE %1$s b
          SET queued = b.queued - c.n, processing = b.processing + c.n,
              slots_held = b.slots_held + c.n, last_served_ms = ?, served_seq = ?::bigint + c.ord, updated_at = ?
          FROM counted c WHERE b.id = c.batch_id
        )
        SELECT id, batch_id, payload, attempt, fencing_token FROM upd ORDER BY ord, seq
        """;
    String candidatesAhead = BatchRow.fetchedAhead(tables, "cb");
    this.claimSql = claim.formatted(batches, jobs, tokens, candidatesAhead, "");
    // after the outcome statement of the same transaction, which locked the candidates it saw in
    // one id-ordered pass: a batch that became a candidate since may come before one it holds, so
    // waiting for it could close a cycle; one another transaction holds is passed over instead
    this.claimAfterLocksSql =
        claim.formatted(batches, jobs, tokens, candidatesAhead, " SKIP LOCKED");
    this.fetchSql =
        """
        WITH picked AS (
          SELECT j.id FROM %2$s j
          -- from where this node's last fetch ended (see FetchHints), or 0
          WHERE j.batch_id = ? AND j.status = 'QUEUED' AND j.run_at <= ? AND j.seq >= ?
          ORDER BY j.seq
          LIMIT ?
          FOR UPDATE SKIP LOCKED
        ), upd AS (
          UPDATE %2$s j
          SET status = 'PROCESSING', attempt = j.attempt + 1,
              fencing_token = GREATEST(j.fencing_token + 1, nextval('%3$s')),
              owner = ?, lease_until = ?, started_at = ?, updated_at = ?, error = NULL
          -- by key, whatever the plan thinks the LIMIT leaves (a generic plan guesses a tenth of the
          -- batch, and would hash-join the whole table)
          WHERE j.id = ANY(ARRAY(SELECT id FROM picked))
          RETURNING j.id, j.payload, j.attempt, j.fencing_token, j.seq
        ), counted AS (
          INSERT INTO %4$s AS f (batch_id, node_id, fetched)
          SELECT ?, ?, c.n FROM (SELECT count(*) AS n FROM upd) c WHERE c.n > 0
          ON CONFLICT (batch_id, node_id) DO UPDATE SET fetched = f.fetched + EXCLUDED.fetched
        )
        SELECT id, payload, attempt, fencing_token, seq FROM upd ORDER BY seq
        """
            .formatted(batches, jobs, tokens, tables.fetched);
    String complete =
        """
        WITH lb AS MATERIALIZED (
          SELECT b.id, b.status, b.max_attempts FROM %1$s b WHERE b.id = ANY(?::uuid[])%4$s
          ORDER BY b.id%8$s
        ), lj AS (
          SELECT j.id, j.batch_id, j.attempt AS job_attempt, o.token, o.kind, o.result, o.error,
                 o.retry_micros, o.slot, o.started_micros, o.timed_out
          FROM unnest(?::uuid[], ?::bigint[], ?::text[], ?::text[], ?::text[], ?::bigint[],
                      ?::boolean[], ?::bigint[], ?::boolean[])
            AS o(id, token, kind, result, error, retry_micros, slot, started_micros, timed_out)
          JOIN %2$s j ON j.id = o.id
        ), todo AS (
          -- AttemptRecords.effectiveKind: cancelled once the batch ended; a retry past the
          -- batch's attempts (by the store's count) fails
          SELECT lj.*, CASE WHEN lb.status NOT IN ('PENDING', 'PROCESSING') THEN 'CANCELLED'
                            WHEN lj.kind = 'RETRY' AND lj.job_attempt >= lb.max_attempts
                              THEN 'FAILED'
                            ELSE lj.kind END AS k
          FROM lj JOIN lb ON lb.id = lj.batch_id
        ), upd AS (
          UPDATE %2$s j SET
            status = CASE t.k WHEN 'SUCCEEDED' THEN 'SUCCEEDED' WHEN 'FAILED' THEN 'FAILED'
                              WHEN 'CANCELLED' THEN 'CANCELLED' ELSE 'QUEUED' END,
            result = CASE t.k WHEN 'SUCCEEDED' THEN t.result ELSE j.result END,
            error = CASE t.k WHEN 'SUCCEEDED' THEN NULL WHEN 'FAILED' THEN t.error
                             WHEN 'RETRY' THEN t.error ELSE j.error END,
            attempt = CASE t.k WHEN 'RELEASED' THEN j.attempt - 1 ELSE j.attempt END,
            lease_until = NULL,
            run_at = CASE t.k
                       WHEN 'RETRY' THEN timestamptz 'epoch' + t.retry_micros * interval '1 microsecond'
                       WHEN 'RELEASED' THEN ? ELSE j.run_at END,
            finished_at = CASE WHEN t.k IN ('SUCCEEDED', 'FAILED', 'CANCELLED') THEN ?
                               ELSE j.finished_at END,
            started_at = CASE
                           WHEN t.started_micros IS NOT NULL
                             THEN timestamptz 'epoch' + t.started_micros * interval '1 microsecond'
                           WHEN t.kind = 'RELEASED' THEN NULL -- given back before it started
                           ELSE j.started_at END,
            updated_at = ?
          FROM todo t
          WHERE j.id = t.id AND j.status = 'PROCESSING' AND j.fencing_token = t.token
          RETURNING j.id, j.batch_id, j.status, j.owner, t.slot, j.attempt, j.fencing_token,
                    j.started_at, t.k, t.timed_out, t.started_micros, t.error AS reported_error
        ), hist AS (
          -- the attempts the job rows will not show, by AttemptRecords' rule; from upd alone, so
          -- that todo stays referenced once and is planned inline, joined by the jobs' key
          INSERT INTO %6$s (job_id, token, batch_id, attempt, node_id, started_at, ended_at,
                            outcome, error)
          SELECT u.id, u.fencing_token, u.batch_id,
                 u.attempt + CASE WHEN u.k = 'RELEASED' THEN 1 ELSE 0 END, u.owner, u.started_at, ?,
                 CASE WHEN u.k = 'RELEASED' THEN 'RELEASED' WHEN u.timed_out THEN 'TIMED_OUT'
                      ELSE 'RETRY_SCHEDULED' END,
                 CASE WHEN u.k = 'RELEASED' THEN NULL ELSE u.reported_error END
          FROM upd u
          WHERE u.k = 'RETRY' OR (u.k = 'FAILED' AND u.timed_out)
             OR (u.k = 'RELEASED' AND u.started_micros IS NOT NULL)
        ), rel AS (
          SELECT batch_id, owner, count(*) AS n FROM upd WHERE slot GROUP BY batch_id, owner
        ), sr AS (
          SELECT s.batch_id, s.node_id, LEAST(s.held, rel.n) AS dec
          FROM %5$s s JOIN rel ON s.batch_id = rel.batch_id AND s.node_id = rel.owner
        ), su AS (
          UPDATE %5$s s SET held = s.held - sr.dec
          FROM sr WHERE s.batch_id = sr.batch_id AND s.node_id = sr.node_id AND s.held > sr.dec
        ), sd AS (
          DELETE FROM %5$s s
          USING sr WHERE s.batch_id = sr.batch_id AND s.node_id = sr.node_id AND s.held <= sr.dec
        ), srb AS (
          SELECT batch_id, sum(dec) AS dec FROM sr GROUP BY batch_id
        ), cnt AS (
          SELECT batch_id, count(*) AS n,
                 count(*) FILTER (WHERE status = 'QUEUED') AS q,
                 count(*) FILTER (WHERE status = 'SUCCEEDED') AS s,
                 count(*) FILTER (WHERE status = 'FAILED') AS f,
                 count(*) FILTER (WHERE status = 'CANCELLED') AS c,
                 array_agg(id) AS accepted
          FROM upd GROUP BY batch_id
        ), fs AS (
          -- the jobs nodes fetched ahead of these batches (see BatchRow): those the batch rows do
          -- not show yet move from queued to processing here
          SELECT f.batch_id, sum(f.fetched) AS n FROM %7$s f
          WHERE f.batch_id IN (SELECT batch_id FROM cnt) GROUP BY f.batch_id
        ), bu AS (
          UPDATE %1$s b SET
            queued = b.queued + cnt.q - GREATEST(0, COALESCE(fs.n, 0) - b.absorbed),
            processing = b.processing - cnt.n + GREATEST(0, COALESCE(fs.n, 0) - b.absorbed),
            absorbed = GREATEST(b.absorbed, COALESCE(fs.n, 0)),
            succeeded = b.succeeded + cnt.s, failed = b.failed + cnt.f,
            cancelled = b.cancelled + cnt.c, updated_at = ?,
            slots_held = b.slots_held - COALESCE(srb.dec, 0)
          FROM cnt JOIN lb jl ON jl.id = cnt.batch_id
            LEFT JOIN srb ON srb.batch_id = cnt.batch_id
            LEFT JOIN fs ON fs.batch_id = cnt.batch_id
          WHERE b.id = cnt.batch_id
          -- the status the outcomes were judged by, beside the newest (see completeOptimisticSql)
          RETURNING %3$s, 0::bigint AS fetched_ahead, cnt.accepted, jl.status AS judged_status
        )
        SELECT bu.* FROM (SELECT count(*) AS n FROM lb) held LEFT JOIN bu ON true
        """;
    String columns = prefixed("b.", BatchRow.COLUMNS);
    String lock = " FOR UPDATE";
    this.completeSql =
        complete.formatted(batches, jobs, columns, "", slots, attempts, tables.fetched, lock);
    // the same without locking the batch rows first: the outcomes are judged by the status the
    // statement reads, and each batch row is locked only when its counters are updated, so that
    // several nodes' outcome statements update their jobs side by side and queue only for that
    // update; it returns the newest status beside the one it judged by, and the caller records the
    // outcomes again with completeSql if they differ (see complete)
    this.completeOptimisticSql =
        complete.formatted(batches, jobs, columns, "", slots, attempts, tables.fetched, "");
    // the claim that follows in the same transaction locks its candidates: lock them now, in the
    // same id-ordered pass, so that two nodes' rounds never take the same rows in opposite orders
    this.completeAndLockSql =
        complete.formatted(
            batches,
            jobs,
            columns,
            """

               OR b.id IN (
                SELECT id FROM %1$s cb
                WHERE status = 'PROCESSING' AND queued > %2$s AND slots_held < max_concurrency
                  AND job_type = ANY(?::text[])
                ORDER BY priority * ?::bigint + last_served_ms, served_seq, id
                LIMIT ?)"""
                .formatted(batches, BatchRow.fetchedAhead(tables, "cb")),
            slots,
            attempts,
            tables.fetched,
            lock);
  }

  /** The statement of {@link #fetch}, for the test of its plan. */
  String fetchSql() {
    return fetchSql;
  }

  /** The statement of {@link #complete} (without a claim after it), for the test of its plan. */
  String completeSql() {
    return completeSql;
  }

  /** The statement of {@link #complete} when it may be optimistic, for the test of its plan. */
  String completeOptimisticSql() {
    return completeOptimisticSql;
  }

  /** The statement of {@link #claim} (not after locks), for the test of its plan. */
  String claimSql() {
    return claimSql;
  }

  /** Prefixes every column of a comma-separated list with {@code alias}. */
  private static String prefixed(String alias, String columns) {
    List<String> out = new ArrayList<>();
    for (String column : columns.split(",")) {
      out.add(alias + column.trim());
    }
    return String.join(", ", out);
  }

  /**
   * Claims as {@link io.batchkit.spi.JobStore#claim} says, in one statement.
   *
   * @param types the job types the request may take any of, sorted
   * @param stamps the first of {@code request.maxJobs() + 1} stamps reserved for this claim, for
   *     the batches' serve stamps (turns among batches served in the same millisecond)
   * @param afterLocks whether this transaction holds batch rows already (the outcome statement
   *     before it locked its candidates): the claim then passes over candidate batches other
   *     transactions hold rather than wait for them
   */
  List<ClaimedJob> claim(
      Connection c,
      Dialect dialect,
      ClaimRequest request,
      List<String> types,
      long stamps,
      boolean afterLocks)
      throws SQLException {
    Integer[] limits = new Integer[types.size()];
    for (int i = 0; i < limits.length; i++) {
      limits[i] = request.limitFor(types.get(i));
    }
    String[] typeArray = types.toArray(String[]::new);
    List<ClaimedJob> claimed = new ArrayList<>();
    try (PreparedStatement ps = c.prepareStatement(afterLocks ? claimAfterLocksSql : claimSql)) {
      Array typesArg = c.createArrayOf("text", typeArray);
      int i = 0;
      ps.setArray(++i, typesArg);
      ps.setLong(++i, request.agingStep().toMillis());
      ps.setInt(++i, request.maxJobs());
      ps.setLong(++i, request.agingStep().toMillis());
      dialect.setInstant(ps, ++i, request.now());
      ps.setInt(++i, request.maxJobs());
      ps.setArray(++i, typesArg);
      ps.setArray(++i, c.createArrayOf("integer", limits));
      ps.setString(++i, request.nodeId());
      dialect.setInstant(ps, ++i, request.leaseUntil());
      dialect.setInstant(ps, ++i, request.now());
      dialect.setInstant(ps, ++i, request.now());
      ps.setInt(++i, request.maxJobs());
      ps.setLong(++i, request.now().toEpochMilli());
      ps.setLong(++i, stamps);
      dialect.setInstant(ps, ++i, request.now());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          claimed.add(
              new ClaimedJob(
                  new JobId(dialect.getUuid(rs, "id")),
                  new BatchId(dialect.getUuid(rs, "batch_id")),
                  rs.getString("payload"),
                  rs.getInt("attempt"),
                  rs.getLong("fencing_token")));
        }
      }
    }
    return claimed;
  }

  /**
   * Fetches up to {@code want} due jobs of a batch ahead, without slots, in one statement: leases
   * them and adds their number to the node's row of fetched jobs, not to the batch row, whose lock
   * it neither needs nor takes (see {@link BatchRow}); it waits for no lock, as it passes over job
   * rows another step holds. It reads the batch's queue from {@code fromSeq} on ({@link
   * FetchHints}: the entries before it are not read), adds the jobs it took to {@code into} in seq
   * order, and returns the seq just past the last, or -1 if it took none.
   */
  long fetch(
      Connection c,
      Dialect dialect,
      ClaimRequest request,
      UUID batchId,
      int want,
      long fromSeq,
      List<ClaimedJob> into)
      throws SQLException {
    long past = -1;
    try (PreparedStatement ps = c.prepareStatement(fetchSql)) {
      int i = 0;
      dialect.setUuid(ps, ++i, batchId);
      dialect.setInstant(ps, ++i, request.now());
      ps.setLong(++i, fromSeq);
      ps.setInt(++i, want);
      ps.setString(++i, request.nodeId());
      dialect.setInstant(ps, ++i, request.leaseUntil());
      dialect.setInstant(ps, ++i, request.now());
      dialect.setInstant(ps, ++i, request.now());
      dialect.setUuid(ps, ++i, batchId);
      ps.setString(++i, request.nodeId());
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          past = rs.getLong("seq") + 1; // the rows come in seq order
          into.add(
              new ClaimedJob(
                  new JobId(dialect.getUuid(rs, "id")),
                  new BatchId(batchId),
                  rs.getString("payload"),
                  rs.getInt("attempt"),
                  rs.getLong("fencing_token"),
                  false));
        }
      }
    }
    return past;
  }

  /**
   * What {@link #complete} did: the rows of the batches whose jobs changed, after the change; or,
   * if {@code stale}, outcomes judged by a batch status that changed before the statement locked
   * the batch row, which the caller must roll back.
   */
  record Completed(Map<UUID, BatchRow> rows, Set<UUID> accepted, boolean stale) {}

  /**
   * Records outcomes in one statement: locks the batch rows (in id order), then moves, in the order
   * its plan takes them, every job whose token is current (to {@code CANCELLED} if its batch has a
   * final status), adds the moves to each batch's counters once, and returns the rows it changed.
   * It does not apply the batch rules (final status, failure policy); the caller does, for the rows
   * that need it.
   *
   * <p>{@code optimistic} skips the first step: the jobs are judged by the batch status as the
   * statement's snapshot shows it, and each batch row is locked only by the update of its counters
   * (which then waits for a step that holds it, and adds to its newest version). If a batch's
   * status changed in between, say a failure policy another node's outcomes tripped, the result is
   * {@code stale}: the outcomes may have been judged wrongly (a retry queued in a batch that has
   * ended), and the caller must roll the transaction back and record them again without {@code
   * optimistic}. Once the counters' update holds the row, the status cannot change until the
   * commit. Only for outcomes of one batch (the counters' update of several would lock their rows
   * in its plan's order, not in id order) that give no slot back (the slot rows' arithmetic relies
   * on the batch row's lock taken first).
   *
   * @param outcomes at most one outcome per job
   * @param claim the claim that follows in the same transaction, whose candidate batches are locked
   *     in the same id-ordered pass; or null
   * @param types the job types {@code claim} may take, sorted
   * @param optimistic whether to lock the batch row only to update its counters; only without a
   *     claim, for outcomes of one batch none of which gives a slot back
   * @throws IllegalArgumentException if {@code optimistic} and there is a claim, no outcome,
   *     outcomes of several batches, or one that gives a slot back
   */
  Completed complete(
      Connection c,
      Dialect dialect,
      Collection<JobOutcome> outcomes,
      ClaimRequest claim,
      List<String> types,
      Instant now,
      boolean optimistic)
      throws SQLException {
    if (optimistic && !mayBeOptimistic(outcomes, claim)) {
      throw new IllegalArgumentException(
          "optimistic recording takes no claim, and outcomes of one batch that give no slot back");
    }
    int n = outcomes.size();
    UUID[] ids = new UUID[n];
    Long[] tokens = new Long[n];
    String[] kinds = new String[n];
    String[] results = new String[n];
    String[] errors = new String[n];
    Long[] retryMicros = new Long[n];
    Boolean[] slot = new Boolean[n];
    Long[] startedMicros = new Long[n];
    Boolean[] timedOut = new Boolean[n];
    Set<UUID> batchIds = new TreeSet<>();
    int i = 0;
    for (JobOutcome o : outcomes) {
      ids[i] = o.jobId().value();
      tokens[i] = o.fencingToken();
      kinds[i] = o.kind().name();
      results[i] = o.result().orElse(null);
      errors[i] = o.error().orElse(null);
      retryMicros[i] = o.retryAt().map(PostgresSteps::epochMicros).orElse(null);
      slot[i] = o.releasesSlot();
      startedMicros[i] = o.startedAt().map(PostgresSteps::epochMicros).orElse(null);
      timedOut[i] = o.timedOut();
      batchIds.add(o.batchId().value());
      i++;
    }
    Map<UUID, BatchRow> rows = new LinkedHashMap<>();
    Set<UUID> accepted = new TreeSet<>();
    boolean lockCandidates = claim != null && !types.isEmpty();
    boolean stale = false;
    String sql =
        lockCandidates ? completeAndLockSql : optimistic ? completeOptimisticSql : completeSql;
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      int p = 0;
      ps.setArray(++p, c.createArrayOf("uuid", batchIds.toArray(UUID[]::new)));
      if (lockCandidates) {
        ps.setArray(++p, c.createArrayOf("text", types.toArray(String[]::new)));
        ps.setLong(++p, claim.agingStep().toMillis());
        ps.setInt(++p, claim.maxJobs());
      }
      ps.setArray(++p, c.createArrayOf("uuid", ids));
      ps.setArray(++p, c.createArrayOf("bigint", tokens));
      ps.setArray(++p, c.createArrayOf("text", kinds));
      ps.setArray(++p, c.createArrayOf("text", results));
      ps.setArray(++p, c.createArrayOf("text", errors));
      ps.setArray(++p, c.createArrayOf("bigint", retryMicros));
      ps.setArray(++p, c.createArrayOf("boolean", slot));
      ps.setArray(++p, c.createArrayOf("bigint", startedMicros));
      ps.setArray(++p, c.createArrayOf("boolean", timedOut));
      dialect.setInstant(ps, ++p, now); // a released job's run_at
      dialect.setInstant(ps, ++p, now); // finished_at
      dialect.setInstant(ps, ++p, now); // the job's updated_at
      dialect.setInstant(ps, ++p, now); // the history's ended_at
      dialect.setInstant(ps, ++p, now); // the batch's updated_at
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          if (rs.getObject("id") == null) {
            continue; // no job changed: the one row of the outer join
          }
          BatchRow row = new BatchRow(rs, dialect);
          rows.put(row.id, row);
          stale |= !row.status.name().equals(rs.getString("judged_status"));
          for (Object id : (Object[]) rs.getArray("accepted").getArray()) {
            accepted.add((UUID) id);
          }
        }
      }
    }
    return new Completed(rows, accepted, stale);
  }

  /**
   * Whether {@link #complete} may record {@code outcomes} optimistically: without a claim, for
   * outcomes of one batch none of which gives a slot back.
   */
  static boolean mayBeOptimistic(Collection<JobOutcome> outcomes, ClaimRequest claim) {
    if (claim != null || outcomes.isEmpty()) {
      return false;
    }
    BatchId batch = outcomes.iterator().next().batchId();
    for (JobOutcome o : outcomes) {
      if (o.releasesSlot() || !o.batchId().equals(batch)) {
        return false;
      }
    }
    return true;
  }

  private static long epochMicros(Instant instant) {
    return ChronoUnit.MICROS.between(Instant.EPOCH, instant);
  }
}
