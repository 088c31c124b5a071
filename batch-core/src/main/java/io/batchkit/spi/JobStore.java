package io.batchkit.spi;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchQuery;
import io.batchkit.CancellationSummary;
import io.batchkit.Job;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobNotFoundException;
import io.batchkit.JobProgress;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Node;
import io.batchkit.Page;
import io.batchkit.StoreStatistics;
import io.batchkit.internal.memory.InMemoryJobStore;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.StoreChecks;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

// This file runs past 600 lines because it is the whole contract a store implements, one method per
// atomic step; about 440 of its lines are the Javadoc that states each step's rules.

/**
 * Where batches and jobs live: the storage contract that every store implements and that {@code
 * JobStoreContractTest} (in batch-core's test-jar) checks rule by rule.
 *
 * <p>Each method is one atomic step: it happens entirely or not at all, and readers never see half
 * of it. The contract is set-based, so that a database store does one transaction per group of
 * jobs: one call claims up to N jobs, and one call records the outcomes of many.
 *
 * <h2>Rules every method keeps</h2>
 *
 * <ul>
 *   <li>A batch's {@link io.batchkit.Progress} counts every job once, in its current status, and is
 *       updated in the same step as the job; reading a batch never counts its jobs.
 *   <li>A claim hands out a fresh <em>fencing token</em>. An outcome or heartbeat for a job is
 *       accepted only with its current token while the job is {@code PROCESSING}, so a node that
 *       lost its lease can never overwrite a newer outcome.
 *   <li>When a step ends a batch's last pending job, the same step gives the batch its final status
 *       by {@link BatchStatusRule} and sets its completion time.
 *   <li>When a step makes more jobs fail than the batch's {@link io.batchkit.FailurePolicy} allows,
 *       the same step cancels its queued jobs, marks it {@code FAILED} and asks its running jobs to
 *       stop.
 *   <li>Any outcome for a job whose batch already has a final status (cancelled or aborted) ends
 *       the job {@code CANCELLED}.
 * </ul>
 *
 * <p>A store fails with {@link JobStoreException} when it cannot do its work (say, the database is
 * down); arguments are checked as documented on each method. Implementations must be thread-safe
 * and may be shared by several services, in one JVM or, for a database, on several nodes.
 */
public interface JobStore {

  /**
   * Returns a new, empty store that keeps everything in this JVM's memory: fast, shared by the
   * services given the same instance, and gone when the JVM ends.
   */
  static JobStore inMemory() {
    return new InMemoryJobStore();
  }

  /**
   * Stores a batch and all its jobs, or nothing. If {@code batch} has an idempotency key that a
   * stored batch already has, stores nothing and returns that batch with {@code created == false}.
   *
   * @param batch the batch, in status {@code PENDING} or (when auto-started) {@code PROCESSING},
   *     with all its jobs counted as queued
   * @param jobs its jobs, in order; the order is the order they run in
   * @throws NullPointerException if an argument or a job is null
   * @throws IllegalArgumentException if there are no jobs, they do not match the batch's progress,
   *     two share an id, the batch is in another status (or PROCESSING without a start time), or
   *     its id or a job's id is taken
   */
  InsertResult insertBatch(Batch batch, List<NewJob> jobs);

  /**
   * Stores a batch as {@link #insertBatch(Batch, List)} does, and with it what {@code request}
   * keeps: the request's fingerprint, when the batch has an idempotency key, and its scheduled
   * start, for a {@code PENDING} batch. If the key is taken, stores nothing and returns the stored
   * batch with the fingerprint stored with it ({@link InsertResult#fingerprint()}), so that the
   * service can tell a repeated request from a different one under the same key. The request's
   * webhooks are kept with the batch: from then on, each step that records an event of the batch
   * that one of them is told of also writes a delivery of it ({@link #claimWebhookDeliveries}), in
   * the same atomic step. The default (a store written before these existed) ignores the
   * fingerprint, so that every repeated key counts as the same request, and refuses a start time or
   * webhooks, which it could not keep.
   *
   * @throws NullPointerException if an argument or a job is null
   * @throws IllegalArgumentException as {@link #insertBatch(Batch, List)} does, or if a start time
   *     is given for a batch that is not {@code PENDING}
   * @throws UnsupportedOperationException by default, if a start time or a webhook is given
   */
  default InsertResult insertBatch(Batch batch, List<NewJob> jobs, StoredRequest request) {
    Checks.notNull(request, "request");
    if (request.startAt().isPresent()) {
      throw new UnsupportedOperationException(
          getClass().getName() + " cannot keep a scheduled start");
    }
    if (!request.webhooks().isEmpty()) {
      throw new UnsupportedOperationException(getClass().getName() + " cannot keep webhooks");
    }
    return insertBatch(batch, jobs);
  }

  /**
   * Returns the events of a batch, oldest first (see {@link BatchEvent}): a store records them in
   * the same atomic step as the change each describes, and deletes them with the batch.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws UnsupportedOperationException by default (a store written before events existed)
   */
  default List<BatchEvent> listBatchEvents(BatchId id) {
    throw new UnsupportedOperationException(getClass().getName() + " does not record batch events");
  }

  /**
   * Returns the ended attempts of a job, oldest first (see {@link JobAttempt}), those made before a
   * {@link #retryFailed} included; an attempt still running is not among them. A store records each
   * attempt in the same atomic step as its outcome: one that the job's own state shows until the
   * job runs again (its final attempt: succeeded, failed, cancelled) need not be written twice, and
   * is read from the job; one that the next attempt would overwrite (a retry, a time-out, a lease
   * lost, a job given back after it started) is written as a record of its own, and so is the final
   * attempt of a failed job that {@link #retryFailed} queues again.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws JobNotFoundException if no job has this id
   * @throws UnsupportedOperationException by default (a store written before history existed)
   */
  default List<JobAttempt> listJobAttempts(JobId id) {
    throw new UnsupportedOperationException(
        getClass().getName() + " does not record attempt history");
  }

  /**
   * Deletes history that ended before {@code before}: attempt records ({@link #listJobAttempts})
   * whose attempt ended before it and batch events ({@link #listBatchEvents}) that happened before
   * it, at most {@code maxRows} rows in all per call, so that one call stays short. The final
   * attempt of a finished job is part of the job and stays as long as the job. Webhook deliveries
   * whose tries ran out go too, if they were written before {@code before}. A store may pass over
   * rows another transaction holds (a batch being deleted) rather than wait for them; a later call
   * takes them. Services call it now and then with their history retention, on the dispatcher
   * thread. The default deletes nothing.
   *
   * @return how many attempt records, events and deliveries it deleted: {@code maxRows} if more may
   *     be left; fewer when none was left that it could take (rows it passed over may remain)
   * @throws NullPointerException if {@code before} is null
   * @throws IllegalArgumentException if {@code maxRows} is not positive
   */
  default int purgeHistory(Instant before, int maxRows) {
    Checks.notNull(before, "before");
    Checks.positive(maxRows, "maxRows");
    return 0;
  }

  /**
   * Returns how long the final attempts of a batch's latest ended jobs took (finished minus
   * started): under {@code SUCCEEDED}, up to {@code max} of its succeeded jobs, and under {@code
   * FAILED} up to {@code max} of its failed ones, each the last in the batch's order, in any order
   * (both keys always present). A job without a start is left out. The cost must not grow with the
   * batch beyond those rows.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws IllegalArgumentException if {@code max} is not positive
   * @throws BatchNotFoundException if no batch has this id
   * @throws UnsupportedOperationException by default (a store written before it existed)
   */
  default Map<JobStatus, List<Duration>> jobDurations(BatchId id, int max) {
    throw new UnsupportedOperationException(getClass().getName() + " cannot read job durations");
  }

  /**
   * Adds jobs to the end of a {@code PENDING} batch, after its others in its order, all queued, and
   * counts them in its progress; stores all of them or none.
   *
   * @param jobs the new jobs, in order
   * @param maxTotal the most jobs the batch may hold with them, checked in the same atomic step
   * @return the batch after the change
   * @throws NullPointerException if an argument or a job is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch is not {@code PENDING}
   * @throws IllegalArgumentException if there are no jobs, two share an id, a job's id is taken, or
   *     the batch would hold more than {@code maxTotal} jobs
   * @throws UnsupportedOperationException by default (a store written before it existed)
   */
  default Batch addJobs(BatchId id, List<NewJob> jobs, long maxTotal, Instant now) {
    throw new UnsupportedOperationException(getClass().getName() + " cannot add jobs to a batch");
  }

  /**
   * Starts the {@code PENDING} batches whose scheduled start ({@link StoredRequest#startAt()}) is
   * not after {@code now}, as {@link #startBatch} does, up to a hundred per call; a batch started,
   * cancelled or deleted before its time is left alone. Services call it every second or so.
   *
   * @return the batches it started
   * @throws NullPointerException if {@code now} is null
   */
  default List<Batch> startDueBatches(Instant now) {
    Checks.notNull(now, "now");
    return List.of();
  }

  /**
   * Reads the batch that has this idempotency key.
   *
   * @return the batch, or empty if no stored batch has this key
   * @throws NullPointerException if {@code key} is null
   * @throws UnsupportedOperationException by default: a store written before this method existed
   */
  default Optional<Batch> findBatchByIdempotencyKey(String key) {
    Checks.notNull(key, "key");
    throw new UnsupportedOperationException(
        getClass().getName() + " cannot look batches up by idempotency key");
  }

  /**
   * Reads one batch.
   *
   * @return the batch, or empty if no batch has this id
   * @throws NullPointerException if {@code id} is null
   */
  Optional<Batch> findBatch(BatchId id);

  /**
   * Lists the batches that match {@code query}, newest first (by creation time, then id).
   *
   * @throws NullPointerException if {@code query} is null
   */
  Page<Batch> listBatches(BatchQuery query);

  /**
   * Lists the jobs of one batch that match {@code query}, in the batch's order.
   *
   * @throws NullPointerException if an argument is null
   * @throws BatchNotFoundException if no batch has this id
   */
  Page<Job> listJobs(BatchId id, JobQuery query);

  /**
   * Lists the jobs of every batch that match {@code query} (its status, job type, metadata and
   * finish-time filters; see {@link JobQuery#matches(Batch, JobStatus, Instant)}), by job id,
   * highest first, the ids compared as unsigned 128-bit numbers.
   *
   * @throws NullPointerException if {@code query} is null
   * @throws UnsupportedOperationException by default (a store written before it existed)
   */
  default Page<Job> listJobs(JobQuery query) {
    Checks.notNull(query, "query");
    throw new UnsupportedOperationException(
        getClass().getName() + " cannot list jobs across batches");
  }

  /**
   * Moves a batch from {@code PENDING} to {@code PROCESSING}: its jobs become claimable.
   *
   * @return the batch after the change
   * @throws NullPointerException if an argument is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch is not {@code PENDING}
   */
  Batch startBatch(BatchId id, Instant now);

  /**
   * Claims up to {@link ClaimRequest#maxJobs()} due jobs for free slots and fetches ahead as {@link
   * ClaimRequest} says, and leases them to the requesting node: each becomes {@code PROCESSING}
   * with the node as owner, the request's lease expiry, its attempt increased by one and a fresh
   * fencing token. Only jobs of {@code PROCESSING} batches whose retry time has come are claimed.
   * Per batch, the slots held by every node together never exceed {@link Batch#maxConcurrency()}:
   * each job claimed for a free slot takes one, jobs fetched ahead take none; per job type, at most
   * {@link ClaimRequest#limitFor(String)} jobs are claimed for slots, and none of a type the
   * request does not name. Batches are served in dispatch-key order (see {@link ClaimRequest}),
   * jobs within a batch in their order, those with slots first; a batch given jobs for slots is
   * marked served now. A store may let a node's fetches ahead of a batch start where its last one
   * ended, as long as a job that comes back to the queue or falls due before that place is fetched
   * soon after (the PostgreSQL store: as soon as it hears of a job queued again, else within a
   * tenth of a second).
   *
   * <p>The slots a node holds are taken back with its jobs when it is found dead ({@link
   * #reapDeadNodes}, {@link #registerNode} with the id of a dead node), and a node whose expired
   * leases were all taken back ({@link #requeueExpired}) holds no slot of that batch any more.
   *
   * @return the claimed jobs, possibly none
   * @throws NullPointerException if {@code request} is null
   */
  List<ClaimedJob> claim(ClaimRequest request);

  /**
   * Returns whether a service may run a {@link #claim} that only fetches ahead ({@code maxJobs} 0,
   * every job type's limit 0) on a thread of its own, at the same time as the same node's other
   * calls ({@link #completeAndClaim}, {@link #complete}, lease renewals, cancellations): a second
   * transaction in flight per node. A store that returns true must keep every rule of {@link
   * #claim} and exact counters under that concurrency, and should make such a fetch wait for no
   * lock those calls hold for long (else the two only take turns). The answer must not change
   * during the store's life: a service reads it once. The default returns false: the service then
   * fetches ahead in its dispatch round, with its other claims.
   */
  default boolean fetchesAside() {
    return false;
  }

  /**
   * Records how attempts ended, all in one step. An outcome whose job is not {@code PROCESSING}
   * with that fencing token is rejected and changes nothing. For the others, see {@link
   * JobOutcome.Kind}; then the rules above (final status, failure policy, cancelled batches) apply.
   * An accepted outcome that {@link JobOutcome#releasesSlot() releases its slot} gives one of the
   * batch's slots that its node holds back. A {@link JobOutcome.Kind#RETRY RETRY} for a job whose
   * attempt is already the batch's {@code maxAttempts} (by the store's count, whatever its reporter
   * believed) is recorded as {@link JobOutcome.Kind#FAILED FAILED}, with its error.
   *
   * @return the rejected jobs and a snapshot of each batch whose jobs changed
   * @throws NullPointerException if an argument or an outcome is null
   */
  CompletionResult complete(List<JobOutcome> outcomes, Instant now);

  /**
   * Records outcomes, then claims: what {@link #complete} followed by {@link #claim} does, so that
   * the slots the outcomes free in a batch can be claimed by the same call. A service calls it once
   * per round; a store that can should do both in one step (one transaction, one commit). The
   * default calls the two methods in turn; if the claim then fails, the outcomes stay recorded, and
   * sending them again is harmless (their fencing tokens are spent, so they are rejected).
   *
   * @param outcomes the outcomes to record first, possibly none
   * @return what the completion changed and the claimed jobs
   * @throws NullPointerException if an argument or an outcome is null
   */
  default CompleteAndClaimResult completeAndClaim(
      List<JobOutcome> outcomes, Instant now, ClaimRequest request) {
    Checks.notNull(request, "request");
    CompletionResult completion = complete(outcomes, now);
    return new CompleteAndClaimResult(completion, claim(request));
  }

  /**
   * Renews the leases of jobs running on a node. A job whose current token is the one given and
   * whose owner is {@code nodeId} gets the new lease expiry; every other job is reported lost. Of
   * the renewed jobs, those whose batch has a final status are reported as cancel-requested.
   *
   * @param leases the running jobs with the fencing token of their claim
   * @throws NullPointerException if an argument is null
   */
  HeartbeatResult heartbeat(String nodeId, Map<JobId, Long> leases, Instant leaseUntil);

  /**
   * Renews leases as {@link #heartbeat(String, Map, Instant)} does, and stores with each renewed
   * job the progress its processor last reported ({@code progress}, by job id; jobs not renewed
   * store nothing), in the same step. A job shows its progress ({@link Job#progress()}) while that
   * attempt runs; once it ends, or is claimed again, it shows none. Services call it at most once a
   * second while progress is waiting, never once per report. The default (a store written before
   * stored progress) renews and drops the progress.
   *
   * @param progress the latest report of each job that reported since the last renewal
   * @throws NullPointerException if an argument, a key or a value is null
   */
  default HeartbeatResult heartbeat(
      String nodeId,
      Map<JobId, Long> leases,
      Instant leaseUntil,
      Map<JobId, JobProgress> progress) {
    StoreChecks.progress(progress);
    return heartbeat(nodeId, leases, leaseUntil);
  }

  /**
   * Takes back up to {@code maxJobs} jobs whose lease expired before {@code now} (their node died
   * or stalled): each is queued again, due at once, if it has attempts left, and fails for good
   * otherwise; its attempt stays counted. Their old tokens stop being accepted. On a store that
   * tells live nodes by a session signal (see {@link #reapDeadNodes}), a job whose owner is a
   * registered node that still holds its signal and reported ({@link #nodeHeartbeat}) within the
   * last minute is left alone for up to a minute past its lease: that node is alive, only slow, and
   * keeps its jobs. A job whose lease ended longer ago is taken back even then: a node renews every
   * lease it holds while it reports, so it does not know it holds that one (the answer to its claim
   * was lost with its connection), and no one else would ever run it.
   *
   * @return a snapshot of each batch whose jobs changed (nothing is rejected)
   * @throws NullPointerException if {@code now} is null
   * @throws IllegalArgumentException if {@code maxJobs} is not positive
   */
  CompletionResult requeueExpired(Instant now, int maxJobs);

  /**
   * Cancels a batch that has not reached a final status: its queued jobs become {@code CANCELLED},
   * its running jobs are asked to stop (see {@link #heartbeat}), and the batch becomes {@code
   * CANCELLED}.
   *
   * @return the counts of each kind of job
   * @throws NullPointerException if an argument is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch already has a final status
   */
  CancellationSummary cancelBatch(BatchId id, Instant now);

  /**
   * Queues the failed jobs of a finished {@code PARTIAL} or {@code FAILED} batch again with their
   * attempts reset to zero, due at once; the batch returns to {@code PROCESSING} with no completion
   * time.
   *
   * @return the batch after the change
   * @throws NullPointerException if an argument is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch is not finished, not {@code PARTIAL} or {@code
   *     FAILED}, or has no failed job
   */
  Batch retryFailed(BatchId id, Instant now);

  /**
   * Queues failed jobs again with their attempts reset to zero, due at once, all in one step (all
   * or none): each job's batch returns to {@code PROCESSING} with no completion time if it had
   * finished, and records a {@code FAILED_JOBS_RETRIED} event; the jobs' earlier attempts stay in
   * their history. An id given twice counts once.
   *
   * @param ids 1 to 1,000 job ids
   * @return each changed batch after the change, in the order of its first job in {@code ids}
   * @throws NullPointerException if an argument or an id is null
   * @throws IllegalArgumentException if there are no ids or more than 1,000
   * @throws JobNotFoundException if an id names no job; nothing changes
   * @throws IllegalStateException if a job is not {@code FAILED}, or its batch neither runs nor is
   *     a finished {@code PARTIAL} or {@code FAILED} batch; nothing changes
   * @throws UnsupportedOperationException by default (a store written before it existed)
   */
  default List<Batch> retryJobs(Collection<JobId> ids, Instant now) {
    throw new UnsupportedOperationException(getClass().getName() + " cannot retry single jobs");
  }

  /**
   * Removes a finished batch and its jobs; its idempotency key becomes free.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch is not finished
   */
  void deleteBatch(BatchId id);

  /**
   * Returns figures over the whole store ({@link StoreStatistics}): queued and running jobs of
   * started batches, from the batches' counters, and the jobs that succeeded and failed for good in
   * the last hour, summed over the registered nodes whose last report ({@link #nodeHeartbeat}) is
   * not before {@code hourAgo}.
   *
   * @throws NullPointerException if {@code hourAgo} is null
   * @throws UnsupportedOperationException by default (a store written before it existed)
   */
  default StoreStatistics storeStatistics(Instant hourAgo) {
    throw new UnsupportedOperationException(getClass().getName() + " cannot tell store figures");
  }

  /** Returns how many jobs are queued in {@code PROCESSING} batches, over the whole store. */
  long countQueuedJobs();

  /**
   * Asks to be told when claimable work may have appeared: a batch was created started or was
   * started, a job was queued again (retry, released or expired lease), failed jobs were retried.
   * Services use it to wake at once instead of waiting for their next poll; it is a hint, so a
   * store may call it when nothing is claimable, and a store that cannot tell other clients'
   * changes (it has no notification channel) may report only its own or none. The callback runs on
   * a store thread or on the thread that made the change, after the change committed; it must be
   * quick and must not throw (a throwing callback is logged and kept).
   *
   * @return a handle that ends the callbacks
   * @throws NullPointerException if {@code onWork} is null
   */
  Subscription subscribe(Runnable onWork);

  /**
   * Asks to be told when a batch has finished: it has a final status and no job is pending (see
   * {@link Batch#isFinished()}), whichever node's step finished it. Services use it so that {@code
   * completion} and {@code awaitCompletion} return at once on every node, not at their next poll.
   * It is a hint like {@link #subscribe}: a batch may be reported more than once (say, again after
   * {@link #retryFailed} and a second finish), and a store without a notification channel may
   * report only the batches finished through this instance. The callback gets the batch's id, runs
   * on a store thread or on the thread that made the change, after the change committed; it must be
   * quick and must not throw (a throwing callback is logged and kept).
   *
   * @return a handle that ends the callbacks
   * @throws NullPointerException if {@code onFinished} is null
   */
  Subscription subscribeFinished(Consumer<BatchId> onFinished);

  /**
   * Adds a node to the store's registry of nodes, {@code LIVE}, and, on a store that has a session
   * signal (see {@link #reapDeadNodes}), takes the node's signal. A row left by a former node with
   * this id is replaced, and the jobs that former node still holds are taken back at once, as
   * {@link #requeueExpired} does with expired ones: a node that starts with the id of one that died
   * releases its former self's leases before it claims anything. The default keeps no registry (a
   * store written before the registry existed): it returns an empty result, and {@link #listNodes}
   * lists nothing.
   *
   * @param node the node, {@code LIVE}
   * @return a snapshot of each batch whose jobs changed
   * @throws NullPointerException if {@code node} is null
   * @throws IllegalArgumentException if {@code node} is not {@code LIVE}
   * @throws IllegalStateException if a live node already uses this id: one registered through this
   *     store instance and not deregistered, or, on a store with a session signal, one that holds
   *     it
   */
  default CompletionResult registerNode(Node node) {
    StoreChecks.liveNode(node);
    return new CompletionResult(Set.of(), List.of());
  }

  /**
   * Records that a node registered through this store instance is still there: its running jobs and
   * its heartbeat time. If another node declared it dead while it ran (its session blinked, or it
   * did not report for a while), it becomes {@code LIVE} again; if its row is missing, it is added
   * again; no job is taken back either way. A node not registered through this store instance, or
   * deregistered, is left as it is.
   *
   * @param node the node as it is now, {@code LIVE}
   * @return true if the node's row was {@code LIVE}; false otherwise (declared dead, missing, or
   *     not registered here), so that jobs it holds may have been taken back: its next lease
   *     renewal tells which. The default returns true.
   * @throws NullPointerException if {@code node} is null
   * @throws IllegalArgumentException if {@code node} is not {@code LIVE}
   */
  default boolean nodeHeartbeat(Node node) {
    StoreChecks.liveNode(node);
    return true;
  }

  /**
   * Finds the registered nodes that died, marks them {@code DEAD} and takes their jobs back, then
   * forgets nodes that ended long ago. Every service calls it twice a second, so it is cheap when
   * nobody died.
   *
   * <p>How a store tells a dead node depends on whether it has a <em>session signal</em>: a lock
   * that a node holds on a database session of its own, which the server releases when the node's
   * process is gone (PostgreSQL's advisory locks, MariaDB's {@code GET_LOCK}). On such a store a
   * live node whose signal has been free for a short grace period (so that a node whose connection
   * blinked can take it again) is dead: its jobs are taken back as {@link #requeueExpired} does,
   * without waiting for their leases. A node without a signal (a store without one, or a node that
   * runs without it) whose last heartbeat is before {@code staleBefore} is marked dead and nothing
   * more: its jobs wait for their leases. A store whose nodes all live in its own process (the
   * in-memory store) has no dead nodes. The default does nothing.
   *
   * @param now the current time, stored as the dead nodes' end time
   * @param staleBefore the heartbeat time before which a node without a signal counts as dead
   * @param forgetBefore rows of nodes that ended before it are removed
   * @return a snapshot of each batch whose jobs changed
   * @throws NullPointerException if an argument is null
   */
  default CompletionResult reapDeadNodes(Instant now, Instant staleBefore, Instant forgetBefore) {
    Checks.notNull(now, "now");
    Checks.notNull(staleBefore, "staleBefore");
    Checks.notNull(forgetBefore, "forgetBefore");
    return new CompletionResult(Set.of(), List.of());
  }

  /**
   * Marks a node {@code STOPPED}, after it handed its jobs back, and releases its session signal.
   * Does nothing for an id that is not registered {@code LIVE} through this store instance. The
   * default does nothing.
   *
   * @throws NullPointerException if an argument is null
   */
  default void deregisterNode(String nodeId, Instant now) {
    Checks.notNull(nodeId, "nodeId");
    Checks.notNull(now, "now");
  }

  /** Lists the registered nodes: live ones first, then by node id. The default lists none. */
  default List<Node> listNodes() {
    return List.of();
  }

  /**
   * Returns whether this store keeps webhooks: stores them with a batch ({@link
   * StoredRequest#webhooks}), writes their deliveries with the events, and implements the three
   * methods below. A service refuses webhooks on a store that does not. The default (a store
   * written before webhooks existed) returns false.
   */
  default boolean keepsWebhooks() {
    return false;
  }

  /**
   * Claims up to {@code max} webhook deliveries that are due ({@link WebhookDelivery}): written by
   * the step that recorded their event, and never tried, or due again after a failed try, or
   * claimed by a service whose lease ran out before it recorded the try. Each claimed delivery is
   * leased until {@code leaseUntil}: no other claim takes it before then. Oldest due first.
   *
   * <p>A delivery's event is recorded exactly once, so a delivery is sent once unless a try fails
   * or its sender dies before it records the result; receivers drop repeats by the delivery's id.
   * The default (a store written before webhooks existed) has none to claim.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code max} is not positive, or {@code leaseUntil} is not
   *     after {@code now}
   */
  default List<WebhookDelivery> claimWebhookDeliveries(Instant now, Instant leaseUntil, int max) {
    StoreChecks.webhookClaim(now, leaseUntil, max);
    return List.of();
  }

  /**
   * Records that a claimed delivery was delivered: it is gone from the store. Does nothing, and
   * returns false, if the claim is no longer the delivery's latest (its lease ran out and another
   * service claimed it) or the delivery is gone.
   *
   * @throws NullPointerException if {@code delivery} is null
   * @throws UnsupportedOperationException by default (a store written before webhooks existed)
   */
  default boolean webhookDelivered(WebhookDelivery delivery) {
    Checks.notNull(delivery, "delivery");
    throw new UnsupportedOperationException(getClass().getName() + " keeps no webhooks");
  }

  /**
   * Records that a try of a claimed delivery failed: it is due again at {@code retryAt}, or, when
   * that is empty, its tries have run out and it is kept (a durable store keeps the error with it,
   * for operators) only until the history retention deletes it ({@link #purgeHistory}). Does
   * nothing, and returns false, if the claim is no longer the delivery's latest or the delivery is
   * gone.
   *
   * @param error why the try failed: a status code or an exception, never the body; cut to {@value
   *     io.batchkit.BatchEvent#MAX_DETAIL_LENGTH} characters
   * @throws NullPointerException if an argument is null
   * @throws UnsupportedOperationException by default (a store written before webhooks existed)
   */
  default boolean webhookFailed(WebhookDelivery delivery, String error, Optional<Instant> retryAt) {
    Checks.notNull(delivery, "delivery");
    Checks.notNull(error, "error");
    Checks.notNull(retryAt, "retryAt");
    throw new UnsupportedOperationException(getClass().getName() + " keeps no webhooks");
  }
}
