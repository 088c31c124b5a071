package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchQuery;
import io.batchkit.CancellationSummary;
import io.batchkit.Job;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobProgress;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Node;
import io.batchkit.Page;
import io.batchkit.StoreStatistics;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.StoreChecks;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.jdbc.SqlDialect;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompleteAndClaimResult;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.InsertResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.JobStoreException;
import io.batchkit.spi.NewJob;
import io.batchkit.spi.StoredRequest;
import io.batchkit.spi.Subscription;
import io.batchkit.spi.WebhookDelivery;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.function.Consumer;

/**
 * The {@link JobStore} on SQL. Every method is one transaction (see {@link Transactions}; {@code
 * requeueExpired} is two, and a heartbeat one more per job it passed over: see {@link Leases}):
 * this class checks the arguments, opens the transaction (through {@link WorkNotifier#write} for
 * the steps that may create claimable work) and runs in it the statements of the parts of the
 * store, among them {@link BatchInserts}, {@link BatchReads}, {@link BatchTransitions}, {@link
 * Claims}, {@link Outcomes} (with {@link PostgresSteps} on PostgreSQL), {@link Leases}, {@link
 * Slots}, {@link AttemptLog} and {@link NodeRegistry}. Table names and shared helpers are in {@link
 * Tables}.
 *
 * <p>The locking order (batch rows in id order, then job rows) is described on {@link BatchReads},
 * the claim's on {@link Claims}, and the per-batch counters on {@link BatchRow}. At about 600 lines
 * it is longer than its parts because it answers every method of the SPI, each in a few lines of
 * checks and a transaction whose statements are in the parts; the one condition written here is
 * which leases a live node keeps.
 */
public final class SqlJobStore implements JdbcJobStore {
  private final Dialect dialect;
  private final Transactions tx;
  private final Tables tables;
  private final WorkNotifier notifier;
  private final BatchInserts inserts;
  private final BatchReads reads;
  private final BatchTransitions batchTransitions;
  private final AttemptLog attempts;
  private final WebhookOutbox webhooks;
  private final Claims claims;
  private final Slots slots;
  private final Outcomes outcomes;
  private final Leases leases;
  private final LivenessSession liveness;
  private final NodeRegistry registry;

  /**
   * How long a node that holds its lock may go without reporting and still keep its jobs past their
   * lease: twelve of its heartbeats, so a long GC pause is survived, and a dispatcher that hangs
   * with its connection open is not trusted for ever.
   */
  static final Duration SILENCE_LIMIT = Duration.ofMinutes(1);

  /** Whether claims and outcomes commit without waiting for the log flush (PostgreSQL only). */
  private final boolean asynchronousJobCommits;

  public SqlJobStore(
      javax.sql.DataSource dataSource,
      Dialect dialect,
      String prefix,
      boolean asynchronousJobCommits,
      boolean sessionLiveness) {
    this.dialect = dialect;
    this.asynchronousJobCommits = asynchronousJobCommits;
    FetchHints hints = new FetchHints();
    this.tx = new Transactions(dataSource, dialect, hints::invalidate);
    this.tables = new Tables(dialect, prefix);
    this.notifier = new WorkNotifier(dataSource, dialect, tx, prefix, hints);
    this.inserts = new BatchInserts(tables, notifier);
    this.reads = new BatchReads(tables);
    this.batchTransitions = new BatchTransitions(tables, reads, notifier);
    this.attempts = new AttemptLog(tables);
    this.webhooks = new WebhookOutbox(tables);
    PostgresSteps steps = dialect.hasSingleStatementSteps() ? new PostgresSteps(tables) : null;
    this.claims = new Claims(tables, reads, steps, hints);
    this.slots = new Slots(tables, reads);
    this.outcomes = new Outcomes(tables, reads, batchTransitions, notifier, steps, slots);
    this.leases = new Leases(tables, tx, reads, outcomes, notifier, slots, steps != null);
    this.liveness =
        new LivenessSession(
            dataSource, dialect, prefix, sessionLiveness && dialect.hasSessionLocks());
    this.registry = new NodeRegistry(tables, liveness, leases);
    liveness.onKeysMoved(
        moved ->
            tx.run(
                "nodeLocks",
                c -> {
                  registry.updateKeys(c, moved);
                  return null;
                }));
  }

  @Override
  public Subscription subscribe(Runnable onWork) {
    Checks.notNull(onWork, "onWork");
    return notifier.subscribe(onWork);
  }

  @Override
  public Subscription subscribeFinished(Consumer<BatchId> onFinished) {
    Checks.notNull(onFinished, "onFinished");
    return notifier.subscribeFinished(onFinished);
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
    return insertBatch(batch, newJobs, StoredRequest.NONE);
  }

  @Override
  public InsertResult insertBatch(Batch batch, List<NewJob> newJobs, StoredRequest request) {
    StoreChecks.newBatch(batch, newJobs);
    StoreChecks.storedRequest(batch, request);
    try {
      return notifier.write("insertBatch", c -> inserts.insert(c, batch, newJobs, request));
    } catch (BatchInserts.DuplicateKey e) {
      // the insert rolled back; a batch with the same idempotency key may have won the race
      if (batch.idempotencyKey().isPresent()) {
        Optional<InsertResult> existing =
            tx.read("insertBatch", c -> inserts.findByKey(c, batch.idempotencyKey().get()));
        if (existing.isPresent()) {
          return existing.get();
        }
      }
      throw new IllegalArgumentException(
          "batch id " + batch.id() + " or one of its job ids is taken", e.getCause());
    }
  }

  @Override
  public Optional<Batch> findBatchByIdempotencyKey(String key) {
    Checks.notNull(key, "key");
    return tx.read("findBatchByIdempotencyKey", c -> inserts.findByKey(c, key))
        .map(InsertResult::batch);
  }

  @Override
  public Optional<Batch> findBatch(BatchId id) {
    Checks.notNull(id, "id");
    return tx.read("findBatch", c -> reads.findBatch(c, id)).map(BatchRow::toBatch);
  }

  @Override
  public Page<Batch> listBatches(BatchQuery query) {
    Checks.notNull(query, "query");
    return tx.read("listBatches", reads.listBatches(query));
  }

  @Override
  public Page<Job> listJobs(BatchId id, JobQuery query) {
    Checks.notNull(id, "id");
    Checks.notNull(query, "query");
    return tx.read("listJobs", reads.listJobs(id, query));
  }

  @Override
  public Page<Job> listJobs(JobQuery query) {
    Checks.notNull(query, "query");
    return tx.read("listJobs", reads.listJobs(query));
  }

  @Override
  public long countQueuedJobs() {
    return tx.read("countQueuedJobs", reads.countQueuedJobs());
  }

  @Override
  public StoreStatistics storeStatistics(Instant hourAgo) {
    Checks.notNull(hourAgo, "hourAgo");
    return tx.read(
        "storeStatistics",
        c -> {
          long[] jobs = reads.queuedAndRunning(c);
          long[] ended = registry.endedLastHour(c, hourAgo);
          return new StoreStatistics(jobs[0], jobs[1], ended[0], ended[1]);
        });
  }

  // ------------------------------------------------------------------ batch transitions

  @Override
  public List<BatchEvent> listBatchEvents(BatchId id) {
    Checks.notNull(id, "id");
    return tx.read("listBatchEvents", c -> batchTransitions.events(c, id));
  }

  @Override
  public List<JobAttempt> listJobAttempts(JobId id) {
    Checks.notNull(id, "id");
    return tx.read("listJobAttempts", c -> attempts.list(c, id));
  }

  @Override
  public Map<JobStatus, List<Duration>> jobDurations(BatchId id, int max) {
    Checks.notNull(id, "id");
    Checks.positive(max, "max");
    return tx.read("jobDurations", c -> reads.jobDurations(c, id, max));
  }

  @Override
  public int purgeHistory(Instant before, int maxRows) {
    Checks.notNull(before, "before");
    Checks.positive(maxRows, "maxRows");
    return tx.run(
        "purgeHistory",
        c -> {
          int deleted = attempts.purge(c, before, maxRows);
          return deleted < maxRows
              ? deleted + webhooks.purge(c, before, maxRows - deleted)
              : deleted;
        });
  }

  @Override
  public boolean keepsWebhooks() {
    return true;
  }

  @Override
  public List<WebhookDelivery> claimWebhookDeliveries(Instant now, Instant leaseUntil, int max) {
    StoreChecks.webhookClaim(now, leaseUntil, max);
    return tx.run("claimWebhookDeliveries", c -> webhooks.claim(c, now, leaseUntil, max));
  }

  @Override
  public boolean webhookDelivered(WebhookDelivery delivery) {
    Checks.notNull(delivery, "delivery");
    return tx.run("webhookDelivered", c -> webhooks.delivered(c, delivery));
  }

  @Override
  public boolean webhookFailed(WebhookDelivery delivery, String error, Optional<Instant> retryAt) {
    Checks.notNull(delivery, "delivery");
    Checks.notNull(error, "error");
    Checks.notNull(retryAt, "retryAt");
    return tx.run("webhookFailed", c -> webhooks.failed(c, delivery, error, retryAt));
  }

  @Override
  public Batch addJobs(BatchId id, List<NewJob> newJobs, long maxTotal, Instant now) {
    Checks.notNull(id, "id");
    StoreChecks.newJobs(newJobs);
    Checks.notNull(now, "now");
    try {
      return notifier.write("addJobs", c -> inserts.addJobs(c, reads, id, newJobs, maxTotal, now));
    } catch (BatchInserts.DuplicateKey e) {
      throw new IllegalArgumentException("one of the new job ids is taken", e.getCause());
    }
  }

  @Override
  public Batch startBatch(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    return notifier.write("startBatch", c -> batchTransitions.startBatch(c, id, now));
  }

  @Override
  public List<Batch> startDueBatches(Instant now) {
    Checks.notNull(now, "now");
    // every node asks every second: a read first, and a write only when a batch is due
    if (!tx.read("startDueBatches", c -> batchTransitions.anyDue(c, now))) {
      return List.of();
    }
    return notifier.write("startDueBatches", c -> batchTransitions.startDue(c, now, 100));
  }

  @Override
  public CancellationSummary cancelBatch(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    return notifier.write("cancelBatch", c -> batchTransitions.cancelBatch(c, id, now));
  }

  @Override
  public List<Batch> retryJobs(Collection<JobId> ids, Instant now) {
    StoreChecks.retriedJobs(ids);
    Checks.notNull(now, "now");
    return notifier.write("retryJobs", c -> batchTransitions.retryJobs(c, ids, now));
  }

  @Override
  public Batch retryFailed(BatchId id, Instant now) {
    Checks.notNull(id, "id");
    Checks.notNull(now, "now");
    return notifier.write("retryFailed", c -> batchTransitions.retryFailed(c, id, now));
  }

  @Override
  public void deleteBatch(BatchId id) {
    Checks.notNull(id, "id");
    tx.run(
        "deleteBatch",
        c -> {
          batchTransitions.deleteBatch(c, id);
          return null;
        });
  }

  // ------------------------------------------------------------------ claims and outcomes

  @Override
  public List<ClaimedJob> claim(ClaimRequest request) {
    Checks.notNull(request, "request");
    List<String> types = Claims.claimableTypes(request);
    if (types.isEmpty() && request.fetchAhead().isEmpty()) {
      return List.of();
    }
    return notifier.writeJobStep(
        "claim", c -> claimIn(c, request, types, false), asynchronousJobCommits);
  }

  /**
   * The claim's steps in the open transaction: gives back the released slots, claims for free slots
   * and records the slots granted, then fetches ahead; {@code afterLocks} after outcomes recorded
   * in the same transaction (see {@link Claims#claimIn}).
   */
  private List<ClaimedJob> claimIn(
      Connection c, ClaimRequest request, List<String> types, boolean afterLocks)
      throws SQLException {
    List<ClaimedJob> claimed = new ArrayList<>();
    if (!types.isEmpty() && request.maxJobs() > 0) {
      claimed.addAll(claims.claimIn(c, request, types, afterLocks));
    }
    Map<UUID, Integer> granted = new HashMap<>();
    claimed.forEach(job -> granted.merge(job.batchId().value(), 1, Integer::sum));
    slots.granted(c, request.nodeId(), granted);
    claimed.addAll(claims.fetchAhead(c, request, slots));
    return claimed;
  }

  /** On PostgreSQL: a fetch writes the node's own row, not the batch row (see {@link BatchRow}). */
  @Override
  public boolean fetchesAside() {
    return dialect.hasSingleStatementSteps();
  }

  @Override
  public CompletionResult complete(List<JobOutcome> outcomes, Instant now) {
    checkOutcomes(outcomes, now);
    if (outcomes.isEmpty()) {
      return new CompletionResult(Set.of(), List.of());
    }
    // completeAlone may roll the transaction back and record again: nothing else may precede it
    return notifier.writeJobStep(
        "complete", c -> this.outcomes.completeAlone(c, outcomes, now), asynchronousJobCommits);
  }

  /**
   * Both steps in one transaction: one commit, and the batch rows locked once. The rows of the
   * batches the outcomes touch and of the claim's likely candidates are locked first, together and
   * in id order, so that this step and others lock in the same order.
   *
   * <p>It stays here, wiring {@link Claims} and {@link Outcomes} into one transaction, so that
   * neither of the two needs the other.
   */
  @Override
  public CompleteAndClaimResult completeAndClaim(
      List<JobOutcome> outcomes, Instant now, ClaimRequest request) {
    checkOutcomes(outcomes, now);
    Checks.notNull(request, "request");
    List<String> types = Claims.claimableTypes(request);
    if (types.isEmpty() && request.fetchAhead().isEmpty()) {
      return new CompleteAndClaimResult(complete(outcomes, now), List.of());
    }
    if (outcomes.isEmpty()) {
      return new CompleteAndClaimResult(new CompletionResult(Set.of(), List.of()), claim(request));
    }
    return notifier.writeJobStep(
        "complete and claim",
        c -> {
          if (!dialect.hasSingleStatementSteps()) {
            // the portable steps lock the outcomes' batches and the claim's candidates up front
            Set<UUID> rows = new TreeSet<>();
            if (!types.isEmpty() && request.maxJobs() > 0) {
              rows.addAll(claims.candidates(c, request, types));
            }
            outcomes.forEach(o -> rows.add(o.batchId().value()));
            reads.lockBatches(c, rows);
          }
          CompletionResult completion = this.outcomes.completeIn(c, outcomes, now, request, types);
          return new CompleteAndClaimResult(completion, claimIn(c, request, types, true));
        },
        asynchronousJobCommits);
  }

  private static void checkOutcomes(List<JobOutcome> outcomes, Instant now) {
    Checks.notNull(outcomes, "outcomes");
    Checks.notNull(now, "now");
    outcomes.forEach(o -> Checks.notNull(o, "outcome"));
  }

  // ------------------------------------------------------------------ leases

  @Override
  public HeartbeatResult heartbeat(String nodeId, Map<JobId, Long> leases, Instant leaseUntil) {
    return heartbeat(nodeId, leases, leaseUntil, Map.of());
  }

  @Override
  public HeartbeatResult heartbeat(
      String nodeId,
      Map<JobId, Long> leases,
      Instant leaseUntil,
      Map<JobId, JobProgress> progress) {
    Checks.notNull(nodeId, "nodeId");
    Checks.notNull(leases, "leases");
    Checks.notNull(leaseUntil, "leaseUntil");
    StoreChecks.progress(progress);
    if (leases.isEmpty()) {
      return new HeartbeatResult(Set.of(), Set.of());
    }
    return this.leases.heartbeat(nodeId, leases, leaseUntil, progress);
  }

  @Override
  public CompletionResult requeueExpired(Instant now, int maxJobs) {
    Checks.notNull(now, "now");
    Checks.positive(maxJobs, "maxJobs");
    // slots whose node runs no job of their batch any more: left by an outcome that came after its
    // job was taken back, so it could not give its slot back
    tx.run(
        "slots",
        c -> {
          slots.dropIdle(c, null);
          return null;
        });
    if (!liveness.hasLocks()) {
      return notifier.write(
          "requeueExpired", c -> leases.requeueExpired(c, now, maxJobs, null, List.of()));
    }
    // a live owner keeps its jobs past their lease: it holds its lock and reported lately (a node
    // whose dispatcher hangs with its connection open stops reporting, and loses them). Not a job
    // whose lease is over by more than the silence limit: the node renews every lease it holds
    // with the same thread that reports, so while it reports, such a job is one it does not know
    // it holds (the answer to its claim was lost with its connection), which nobody else would run
    String alive =
        "(j.lease_until >= ? AND EXISTS (SELECT 1 FROM "
            + tables.nodes
            + " n WHERE n.node_id = j.owner AND n.status = 'LIVE' AND n.lock_key <> 0"
            + " AND n.last_heartbeat >= ? AND "
            + dialect.nodeLockHeld(tables.prefix, "n.lock_key")
            + "))";
    Instant since = now.minus(SILENCE_LIMIT);
    return notifier.write(
        "requeueExpired",
        c -> leases.requeueExpired(c, now, maxJobs, alive, List.of(since, since)));
  }

  // ------------------------------------------------------------------ nodes

  @Override
  public CompletionResult registerNode(Node node) {
    StoreChecks.liveNode(node);
    String id = node.nodeId();
    if (liveness.isLocal(id)) {
      throw new IllegalStateException(
          "node id '" + id + "' is in use by a live service on this store");
    }
    tx.read(
        "registerNode",
        c -> {
          registry.checkFree(c, id);
          return null;
        });
    int key = session("registerNode", () -> liveness.take(id));
    try {
      return notifier.write("registerNode", c -> registry.register(c, node, key));
    } catch (RuntimeException e) {
      liveness.release(id);
      throw e;
    }
  }

  @Override
  public boolean nodeHeartbeat(Node node) {
    StoreChecks.liveNode(node);
    Optional<Integer> key = liveness.keyOf(node.nodeId());
    if (key.isEmpty()) {
      return false; // not registered through this store, or deregistered: nothing to report
    }
    return tx.run("nodeHeartbeat", c -> registry.heartbeat(c, node, key.get()));
  }

  @Override
  public CompletionResult reapDeadNodes(Instant now, Instant staleBefore, Instant forgetBefore) {
    Checks.notNull(now, "now");
    Checks.notNull(staleBefore, "staleBefore");
    Checks.notNull(forgetBefore, "forgetBefore");
    // this process's own locks are kept by the liveness session's own thread; while they are not
    // held, findDead judges nobody
    CompletionResult reaped = new CompletionResult(Set.of(), List.of());
    if (liveness.hasLocks()) {
      List<NodeRegistry.Dead> dead = tx.read("reapDeadNodes", registry::findDead);
      if (!dead.isEmpty()) {
        reaped = notifier.write("reapDeadNodes", c -> registry.reap(c, dead, now));
      }
    }
    if (registry.maintenanceDue()) {
      tx.run(
          "reapDeadNodes",
          c -> {
            registry.maintain(c, now, staleBefore, forgetBefore);
            return null;
          });
    }
    return reaped;
  }

  @Override
  public void deregisterNode(String nodeId, Instant now) {
    Checks.notNull(nodeId, "nodeId");
    Checks.notNull(now, "now");
    if (!liveness.isLocal(nodeId)) {
      return;
    }
    try {
      tx.run(
          "deregisterNode",
          c -> {
            registry.deregister(c, nodeId, now);
            return null;
          });
    } finally {
      liveness.release(nodeId);
    }
  }

  @Override
  public List<Node> listNodes() {
    return tx.read("listNodes", registry::list);
  }

  @FunctionalInterface
  private interface SessionStep<T> {
    T run() throws SQLException;
  }

  /** Runs a step of the liveness session, failing as the store's other steps do. */
  private <T> T session(String operation, SessionStep<T> step) {
    try {
      return step.run();
    } catch (SQLException e) {
      throw new JobStoreException(operation, dialect.isTransient(e), Transactions.describe(e), e);
    }
  }
}
