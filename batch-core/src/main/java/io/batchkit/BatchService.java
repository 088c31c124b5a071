package io.batchkit;

import io.batchkit.internal.scheduler.CircuitBreakerConfig;
import io.batchkit.internal.scheduler.DefaultBatchService;
import io.batchkit.internal.scheduler.ProcessorDiscovery;
import io.batchkit.internal.scheduler.RateLimit;
import io.batchkit.internal.scheduler.ServiceConfig;
import io.batchkit.internal.util.AttemptRecords;
import io.batchkit.internal.util.Checks;
import io.batchkit.spi.JobProcessorProvider;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.SharedRateLimit;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.DoubleSupplier;

// This file runs to about 1,200 lines: it holds the service's interface and its Builder, nested so
// that users write BatchService.Builder, and more than half of its lines are the Javadoc of every
// method and setting. The service itself lives in internal.scheduler, cut into parts.

/**
 * Runs batches of jobs with bounded concurrency, retries, timeouts and rate limits, and tracks
 * every job and each batch's exact progress in a {@link JobStore}.
 *
 * <pre>{@code
 * try (BatchService service = BatchService.builder()
 *     .processor("greet", ctx -> "Hello, " + ctx.payload())
 *     .build()) {
 *   Batch batch = service.submit(BatchRequest.builder("greet").items(List.of("Ada", "Linus")).build());
 *   Batch done = service.awaitCompletion(batch.id(), Duration.ofMinutes(1));
 *   System.out.println(done.status() + " " + done.progress());
 * }
 * }</pre>
 *
 * <p>Thread-safe: every method may be called from any thread, including from inside a {@link
 * JobProcessor}. {@link #close()} stops it; after that every method but {@code close} and {@link
 * #nodeId()} throws {@link IllegalStateException}. Several services may share one store: each
 * claims work in turn, and the per-batch limits hold across all of them.
 */
public interface BatchService extends AutoCloseable {

  /**
   * The most job durations of each final status that {@link #getBatchPerformance} reads, so that
   * the call costs the same for a batch of a million jobs as for one of ten thousand.
   */
  int DURATION_SAMPLE = 10_000;

  /** Returns a builder with the defaults documented on each setter. */
  static Builder builder() {
    return new Builder();
  }

  /**
   * Validates a request and stores the batch with all its jobs in one atomic step. The batch is
   * {@link BatchStatus#PENDING} unless the request asked for {@link
   * BatchRequest.Builder#autoStart()} or a {@link BatchRequest.Builder#startAt} that has passed; a
   * batch with a later {@code startAt} waits for it. A request with an idempotency key that a
   * stored batch already has returns that batch and creates nothing, if it is the same request (job
   * type, name, items, metadata and settings; {@code autoStart} aside); a different request under
   * the same key is refused. (A batch stored by a version or a store that kept no request
   * fingerprint is returned whatever the request.)
   *
   * @throws NullPointerException if {@code request} is null
   * @throws BatchValidationException listing every problem: no processor for the job type, more
   *     items than {@code maxItemsPerBatch}, payloads over {@code maxPayloadBytes}
   * @throws IdempotencyConflictException if a stored batch has the request's idempotency key but
   *     was made from a different request
   * @throws IllegalStateException if the service is closed
   */
  Batch createBatch(BatchRequest request);

  /**
   * Creates and starts a batch in one call, as {@link #createBatch} with {@code autoStart}. If the
   * idempotency key names an existing batch that is still {@code PENDING}, that batch is started.
   *
   * @throws NullPointerException if {@code request} is null
   * @throws BatchValidationException as {@link #createBatch}
   * @throws IdempotencyConflictException as {@link #createBatch}
   * @throws IllegalStateException if the service is closed
   */
  Batch submit(BatchRequest request);

  /**
   * Adds jobs to a batch that has not started, one per item, after its others in its order: a page
   * that uploads files adds them to a batch, then starts it. The items pass the same checks as a
   * new batch's ({@code maxItemsPerBatch} counts the batch's jobs together, payload size and
   * characters). A batch with an idempotency key keeps the fingerprint of the request that made it,
   * so a repeated request still finds it.
   *
   * @return the batch with the jobs counted
   * @throws NullPointerException if {@code id}, {@code items} or an item is null
   * @throws BatchValidationException if there are no items, too many, or a payload is refused;
   *     nothing is added
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch is not {@code PENDING}, or the service is closed
   */
  Batch addItems(BatchId id, Collection<String> items);

  /**
   * Starts a pending batch: its jobs become eligible to run ({@code PENDING -> PROCESSING}).
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch is not {@code PENDING}, or the service is closed
   */
  Batch startBatch(BatchId id);

  /**
   * Returns a snapshot of a batch: status, exact progress, settings, times and, while it runs, the
   * estimated time remaining. Reads one record; it does not count jobs.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the service is closed
   */
  Batch getBatch(BatchId id);

  /**
   * Reads the batch created with this idempotency key ({@link
   * BatchRequest.Builder#idempotencyKey}).
   *
   * @return the batch, or empty if no batch in the store has this key
   * @throws NullPointerException if {@code key} is null
   * @throws IllegalStateException if the service is closed
   * @throws UnsupportedOperationException if the store cannot look keys up (a store written before
   *     this method)
   */
  Optional<Batch> findBatchByIdempotencyKey(String key);

  /**
   * Returns one page of a batch's jobs, in the order they were given, filtered by status.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code query} filters by job type, metadata or finish time
   *     ({@link JobQuery#filtersAcrossBatches()}): those are {@link #listJobs}'s
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the service is closed
   */
  Page<Job> getJobs(BatchId id, JobQuery query);

  /**
   * Returns one page of the jobs of every batch that match {@code query}: by status, the batch's
   * job type and metadata, and when the job finished; latest created first (by job id, which grows
   * with the time a job was created, not with when it finished). The dead-letter view: every job
   * that failed today for a tenant is {@code
   * listJobs(JobQuery.withStatus(FAILED).metadata("tenant", t).finishedBetween(midnight, now))}. An
   * operator's query, not one for a hot path: a database reads the jobs from the newest-created end
   * until the page is full, and no index serves the status or the finish time, so a filter that few
   * jobs match reads much of the table.
   *
   * @throws NullPointerException if {@code query} is null
   * @throws IllegalStateException if the service is closed
   * @throws UnsupportedOperationException if the store cannot (a store written before this method)
   */
  Page<Job> listJobs(JobQuery query);

  /**
   * Cancels a batch: queued jobs become {@code CANCELLED} at once; running jobs are told to stop
   * ({@link JobContext#isCancelled()} turns true and their thread is interrupted, on whichever node
   * they run, within one heartbeat for other nodes) and end {@code CANCELLED}. The batch is {@code
   * CANCELLED} at once and {@linkplain Batch#isFinished() finished} once its running jobs stopped.
   *
   * @return how many jobs of each kind there were
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch already ended, or the service is closed
   */
  CancellationSummary cancelBatch(BatchId id);

  /**
   * Queues the failed jobs of a finished {@code PARTIAL} or {@code FAILED} batch again, with fresh
   * attempts. The batch returns to {@code PROCESSING} and gets its final status again when they
   * end.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch is not a finished {@code PARTIAL} or {@code FAILED}
   *     batch with failed jobs, or the service is closed
   */
  Batch retryFailed(BatchId id);

  /**
   * Queues one failed job again with fresh attempts, as {@link #retryFailed} does for all of a
   * batch's: its batch returns to {@code PROCESSING} if it had finished, and gets its final status
   * again when its jobs end. The job's earlier attempts stay in its history.
   *
   * @return the job's batch after the change
   * @throws NullPointerException if {@code id} is null
   * @throws JobNotFoundException if no job has this id
   * @throws IllegalStateException if the job is not {@code FAILED}, its batch neither runs nor is a
   *     finished {@code PARTIAL} or {@code FAILED} batch (a cancelled one, say), or the service is
   *     closed
   * @throws UnsupportedOperationException if the store cannot retry single jobs
   */
  Batch retryJob(JobId id);

  /**
   * Queues failed jobs again, of one batch or several, all or none: the operator's replay of a
   * selection. Each batch is reopened as {@link #retryJob} says; an id given twice counts once.
   *
   * @param ids 1 to 1,000 job ids
   * @return each changed batch after the change, in the order of its first job in {@code ids}
   * @throws NullPointerException if {@code ids} or an id is null
   * @throws IllegalArgumentException if there are no ids or more than 1,000
   * @throws JobNotFoundException if an id names no job; nothing changes
   * @throws IllegalStateException as {@link #retryJob}, for any of the jobs; nothing changes
   * @throws UnsupportedOperationException if the store cannot retry single jobs
   */
  List<Batch> retryJobs(Collection<JobId> ids);

  /**
   * Lists batches, newest first, each as {@link #getBatch} gives it (with the estimated time
   * remaining of those that run).
   *
   * @throws NullPointerException if {@code query} is null
   * @throws IllegalStateException if the service is closed
   */
  Page<Batch> listBatches(BatchQuery query);

  /**
   * Deletes a finished batch and its jobs.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the batch is not finished, or the service is closed
   */
  void deleteBatch(BatchId id);

  /**
   * Returns a future that completes with the batch's snapshot once it is {@linkplain
   * Batch#isFinished() finished}, whichever node finishes it. It completes exceptionally with
   * {@link BatchNotFoundException} if the batch is deleted first, and with {@link
   * IllegalStateException} if the service is closed first.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the service is closed
   */
  CompletableFuture<Batch> completion(BatchId id);

  /**
   * Waits until the batch is finished or {@code timeout} has passed, and returns its snapshot:
   * check {@link Batch#isFinished()} to tell which.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code timeout} is negative
   * @throws BatchNotFoundException if no batch has this id
   * @throws BatchException if the waiting thread is interrupted (its interrupt flag is set again)
   * @throws IllegalStateException if the service is closed
   */
  Batch awaitCompletion(BatchId id, Duration timeout);

  /** The most jobs one {@link #poll} hands out. */
  int MAX_POLL_JOBS = 100;

  /** The shortest lease {@link #poll} and {@link #extend} grant. */
  Duration MIN_LEASE = Duration.ofSeconds(1);

  /**
   * The longest lease {@link #poll} and {@link #extend} grant: a longer job extends its lease as it
   * goes, so that a worker that vanished gives its job back within the hour.
   */
  Duration MAX_LEASE = Duration.ofHours(1);

  /** The longest a {@link #poll(String, int, Duration, Duration)} waits for work. */
  Duration MAX_POLL_WAIT = Duration.ofSeconds(60);

  /**
   * Leases up to {@code maxJobs} due jobs of {@code jobType} to a worker outside this service's
   * thread pool (another process, another language), without waiting; see {@link LeasedJob} for
   * what the worker does next. The jobs are chosen as the service chooses its own: each takes one
   * of its batch's slots, so a batch's limit bounds the jobs running at once across every node and
   * every worker; batches are served by priority with ageing and take turns; and the rate limits
   * this service has for the type apply ({@link Builder#rateLimit}, {@link
   * Builder#sharedRateLimit}). Circuit breakers watch only the jobs the service runs itself.
   *
   * <p>Any node may serve any job type, with or without a processor for it: a type no node has a
   * processor for is run only by workers (create its batches on a service with {@link
   * Builder#allowUnknownJobTypes}). A leased job counts as processing in its batch's {@link
   * Progress}, and shows {@code pull:} and a hash as its {@link Job#nodeId()}: the lease belongs to
   * the worker, not to the node that served it, so a node that dies leaves it alone and the worker
   * may report through any node. Each job is leased in a step of its own.
   *
   * <p>The lease is the attempt's timeout: a batch's {@link BatchRequest.Builder#jobTimeout} does
   * not apply to leased jobs. A lease that runs out unreported is taken back by the next sweep of
   * any node (nodes sweep every half lease of their own, between the poll interval and the longest
   * poll interval: 5 s by default): the job is queued again with its attempt counted, or fails if
   * it has none left; until then the worker's reports are still taken. A cancelled batch is
   * finished once its leased jobs were reported or their leases ran out. Listeners hear of the jobs
   * the service runs itself, not of leased ones; the jobs' ends count in the {@link #statistics()}
   * of the node the worker reported through.
   *
   * @param jobType the job type to serve
   * @param maxJobs the most jobs to lease, 1 to {@link #MAX_POLL_JOBS}
   * @param lease how long the worker has before it must report or {@link #extend}, {@link
   *     #MIN_LEASE} to {@link #MAX_LEASE}
   * @return the leased jobs, possibly none
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code jobType} is blank or too long, or a number is out of
   *     its range
   * @throws IllegalStateException if the service is closed
   * @throws io.batchkit.spi.JobStoreException if the store fails before any job was leased (a
   *     failure after some were leased ends the poll with those, and is logged)
   */
  List<LeasedJob> poll(String jobType, int maxJobs, Duration lease);

  /**
   * Leases jobs as {@link #poll(String, int, Duration)} does, waiting up to {@code wait} for one to
   * become due: it returns as soon as it has leased any. Jobs queued through this service, or
   * through any node on PostgreSQL, and slots freed by reports to this service end the wait at
   * once; anything else (a slot another node's processor freed, a retry falling due) is found by
   * looking again, after a poll interval, then less often while nothing comes, up to the longest
   * poll interval. It returns early with none if the service closes.
   *
   * @param wait the longest to wait, zero to {@link #MAX_POLL_WAIT}
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException as {@link #poll(String, int, Duration)} says, or if {@code
   *     wait} is out of its range
   * @throws IllegalStateException if the service is closed when it is called
   * @throws BatchException if the waiting thread is interrupted (its interrupt flag is set again)
   */
  List<LeasedJob> poll(String jobType, int maxJobs, Duration lease, Duration wait);

  /**
   * Records that a leased job succeeded with {@code result}, if the lease is still held: the job
   * must still be leased under this token, so a worker whose lease was taken back cannot overwrite
   * the outcome of the job's next attempt, and no token made up from a job's visible fields can end
   * a job someone else runs. In a cancelled batch, the job is recorded {@link JobStatus#CANCELLED}.
   * The check renews the lease for a minute first: if the store then fails, the worker has that
   * minute to report again before the job goes back to the queue.
   *
   * @param token the token of {@link LeasedJob#token()}
   * @param result what the job produced, or null for nothing; at most the payload limit ({@link
   *     Builder#maxPayloadBytes}) in UTF-8
   * @return true if recorded; false if the lease was no longer held (see {@link LeaseState#LOST})
   * @throws NullPointerException if {@code token} is null
   * @throws IllegalArgumentException if {@code token} is not a lease token, or {@code result} is
   *     over the limit or holds a character no store keeps (NUL, a lone surrogate); nothing is
   *     recorded, and the worker may report again
   * @throws IllegalStateException if the service is closed
   */
  boolean complete(String token, String result);

  /**
   * Records that a leased job's attempt failed, if the lease is still held (as {@link #complete}
   * checks). With {@code retryable} and an attempt left, the job is queued again after the
   * service's retry backoff; otherwise it fails for good. In a cancelled batch, the job is recorded
   * {@link JobStatus#CANCELLED}.
   *
   * @param error why it failed, stored as the job's error (cut to 2,000 characters; characters no
   *     store keeps are replaced)
   * @return true if recorded; false if the lease was no longer held
   * @throws NullPointerException if {@code token} or {@code error} is null
   * @throws IllegalArgumentException if {@code token} is not a lease token
   * @throws IllegalStateException if the service is closed
   */
  boolean fail(String token, String error, boolean retryable);

  /**
   * Gives a leased job back unfinished, if the lease is still held: it is queued again, due at
   * once, and this attempt is not counted (as when a node shuts down); in a cancelled batch it ends
   * {@link JobStatus#CANCELLED}. For a worker that stops.
   *
   * @return true if given back; false if the lease was no longer held
   * @throws NullPointerException if {@code token} is null
   * @throws IllegalArgumentException if {@code token} is not a lease token
   * @throws IllegalStateException if the service is closed
   */
  boolean release(String token);

  /**
   * Extends a lease that is still held: it now runs until {@code lease} from now.
   *
   * @param lease the new lease from now, {@link #MIN_LEASE} to {@link #MAX_LEASE}
   * @return {@link LeaseState#HELD} when extended; {@link LeaseState#CANCELLED} (extended too) when
   *     the job's batch was cancelled and the worker should stop; {@link LeaseState#LOST} when the
   *     lease is no longer held
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code token} is not a lease token or {@code lease} is out
   *     of its range
   * @throws IllegalStateException if the service is closed
   */
  LeaseState extend(String token, Duration lease);

  /**
   * Returns this service's figures (jobs run, throughput, duration percentiles, running and queued)
   * and the whole store's (queued and running jobs, exact; jobs that succeeded and failed in the
   * last hour and the failure rate, estimates from the nodes' reports): see {@link BatchStatistics}
   * and {@link StoreStatistics}.
   *
   * @throws IllegalStateException if the service is closed
   * @throws io.batchkit.spi.JobStoreException if the store cannot be read
   */
  BatchStatistics statistics();

  /** Returns this service's node id, stored as the owner of the jobs it runs. */
  String nodeId();

  /**
   * Lists the nodes registered in this service's store, this one included: live ones first, then by
   * node id. A service registers when it is built and marks itself stopped when it closes; a node
   * that died is marked dead (see {@link Node} for how each store tells), and rows of nodes that
   * ended more than a day ago are removed.
   *
   * @throws IllegalStateException if the service is closed
   * @throws io.batchkit.spi.JobStoreException if the store cannot be read
   */
  List<Node> nodes();

  /**
   * Returns what happened to a batch, oldest first: created, started, items added, cancelled,
   * failure policy tripped, failed jobs retried, finished. Each event was recorded by the store in
   * the same step as the change.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the service is closed
   * @throws UnsupportedOperationException if the store does not record events
   */
  List<BatchEvent> getBatchEvents(BatchId id);

  /**
   * Returns the ended attempts of a job, oldest first: for each, the node that ran it, when it
   * started and ended, how it ended (succeeded, failed, retry scheduled, timed out, cancelled,
   * lease lost, released at shutdown) and its error. Attempts made before a {@link #retryFailed}
   * are kept; a running attempt is not listed (the job shows it). Each attempt was recorded by the
   * store in the same step as its outcome; records older than the {@linkplain
   * Builder#historyRetention history retention} are gone, but a finished job's last attempt stays
   * with the job.
   *
   * @throws NullPointerException if {@code id} is null
   * @throws JobNotFoundException if no job has this id
   * @throws IllegalStateException if the service is closed
   * @throws UnsupportedOperationException if the store does not record attempts
   */
  List<JobAttempt> getJobHistory(JobId id);

  /**
   * Returns how fast a batch runs: the jobs it ended per second since it started (exact), and the
   * 50th, 95th and 99th percentile of its attempts' durations, from the final attempts of its
   * latest jobs (exact up to {@value #DURATION_SAMPLE} succeeded and as many failed jobs, an
   * estimate from the latest of them beyond; see {@link BatchPerformance}).
   *
   * @throws NullPointerException if {@code id} is null
   * @throws BatchNotFoundException if no batch has this id
   * @throws IllegalStateException if the service is closed
   * @throws UnsupportedOperationException if the store cannot read job durations
   */
  BatchPerformance getBatchPerformance(BatchId id);

  /**
   * Returns whether {@link #close()} has begun: from then on every call that creates or changes a
   * batch throws {@link IllegalStateException}.
   */
  boolean isClosed();

  /**
   * Stops the service: it takes no new work, lets running jobs finish for up to the shutdown grace
   * period, then interrupts them and gives their jobs back to the store (queued again, attempt not
   * counted) so that another node or the next start runs them. Returns when every thread the
   * service started has stopped or been abandoned (a processor that ignores interrupts). Calling it
   * again does nothing.
   */
  @Override
  void close();

  /**
   * Builds a {@link BatchService}. Setters check their argument at once; {@link #build()} checks
   * the combination, copies the settings, and starts the service, so reusing a builder never
   * changes a built service. For a scalar setting the last call wins; keyed settings (a processor
   * or a rate limit per job type) reject a duplicate key. Not thread-safe.
   */
  final class Builder {
    private JobStore store;
    private final Map<String, JobProcessor> processors = new LinkedHashMap<>();
    private boolean discoverProcessors = true;
    private boolean allowUnknownJobTypes;
    private int maxConcurrency = 8;

    /** -1: chosen by the service (see {@link #claimAhead}). */
    private int claimAhead = -1;

    private int defaultBatchConcurrency = 3;
    private int defaultMaxAttempts = 3;
    private Duration defaultJobTimeout = Duration.ofMinutes(15);
    private Duration retryInitialDelay = Duration.ofSeconds(1);
    private Duration retryMaxDelay = Duration.ofMinutes(5);
    private double retryJitter = 0.2;
    private final Map<String, RateLimit> rateLimits = new LinkedHashMap<>();
    private final Map<String, SharedRateLimit> sharedRateLimits = new LinkedHashMap<>();
    private final Map<String, CircuitBreakerConfig> circuitBreakers = new LinkedHashMap<>();
    private double memoryAwareFraction;
    private DoubleSupplier memoryProbe;
    private final List<BatchListener> listeners = new ArrayList<>();
    private Clock clock = Clock.systemUTC();
    private String nodeId;
    private Duration leaseDuration = Duration.ofSeconds(30);
    private Duration pollInterval = Duration.ofMillis(500);
    private Duration maxPollInterval = Duration.ofSeconds(5);
    private Duration priorityAging = Duration.ofSeconds(30);
    private Duration shutdownGracePeriod = Duration.ofSeconds(30);
    private Duration interruptGracePeriod = Duration.ofSeconds(5);
    private int maxItemsPerBatch = 100_000;
    private int maxPayloadBytes = 1024 * 1024;
    private Duration historyRetention = Duration.ofDays(30);
    private final List<Webhook> webhooks = new ArrayList<>();
    private String webhookSecret;

    /** The scalar settings that were set, for toString: name to value, last call wins. */
    private final Map<String, Object> set = new LinkedHashMap<>();

    Builder() {}

    private <T> T remember(String name, T value) {
      set.put(name, value);
      return value;
    }

    /**
     * Sets where batches and jobs are kept (default: a new {@link JobStore#inMemory()} store).
     *
     * @throws NullPointerException if {@code store} is null
     */
    public Builder store(JobStore store) {
      this.store = remember("store", Checks.notNull(store, "store"));
      return this;
    }

    /**
     * Registers the processor for a job type.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code jobType} is blank, longer than {@value
     *     BatchRequest#MAX_JOB_TYPE_LENGTH} characters, or already registered
     */
    public Builder processor(String jobType, JobProcessor processor) {
      Checks.notBlank(jobType, "jobType", BatchRequest.MAX_JOB_TYPE_LENGTH);
      Checks.notNull(processor, "processor");
      if (processors.containsKey(jobType)) {
        throw new IllegalArgumentException(
            "a processor for job type '" + jobType + "' is already registered");
      }
      processors.put(jobType, processor);
      return this;
    }

    /**
     * Sets whether {@link JobProcessorProvider}s on the class path are found through {@link
     * java.util.ServiceLoader} (default true). A provider's job type that is also registered with
     * {@link #processor} fails {@link #build()}, naming both.
     */
    public Builder discoverProcessors(boolean discover) {
      this.discoverProcessors = remember("discoverProcessors", discover);
      return this;
    }

    /**
     * Sets whether batches may be created for job types this service has no processor for (default
     * false): useful when other nodes sharing the store run them, or workers outside the service
     * pull them ({@link BatchService#poll}). With it, {@link #rateLimit} and {@link
     * #sharedRateLimit} may also name such a type, to limit how fast workers get its jobs.
     */
    public Builder allowUnknownJobTypes(boolean allow) {
      this.allowUnknownJobTypes = remember("allowUnknownJobTypes", allow);
      return this;
    }

    /**
     * Sets how many jobs run at once in this service, over all batches (default 8).
     *
     * @throws IllegalArgumentException if {@code n} is not between 1 and 10000
     */
    public Builder maxConcurrency(int n) {
      this.maxConcurrency =
          remember("maxConcurrency", Checks.between(n, 1, 10_000, "maxConcurrency"));
      return this;
    }

    /**
     * An expert override: sets how many jobs of each job type this service fetches ahead, beyond
     * the jobs it runs. Without it the service chooses by itself: on the store {@link
     * JobStore#inMemory()} returns (not a wrapper of it) none, as there each worker records its
     * job's outcome and claims its next job in one call, which costs less than a job fetched ahead
     * and handed to it; on any other store about 100 ms of work at the measured length of the
     * type's jobs (at most 500), and none for a type until one of its jobs has ended, for a
     * rate-limited type or for a type whose circuit is not closed. {@code 0} fetches nothing ahead;
     * a positive {@code n} fetches {@code n} ahead on every store, the in-memory one too.
     *
     * <p>Jobs fetched ahead are what lets a service record outcomes and claim in large groups, so
     * that a durable store sees far fewer transactions per job. They take none of their batch's
     * slots: a batch's {@code maxConcurrency} bounds the jobs that <em>run</em> at once across all
     * nodes. When a job ends, its worker starts a job of the same batch fetched ahead in the slot
     * it held, without asking the store. A service fetches ahead only from a batch that is the one
     * batch with queued jobs of its job types, so no batch waits for its turn behind them; one that
     * arrives meanwhile waits until the jobs fetched ahead have started.
     *
     * <p>Jobs fetched ahead count as {@code processing} in {@link Progress} (they are leased to
     * this service); if this node dies, they go back to the queue with its running jobs. They do
     * not run down their timeout, are cancelled at once with their batch (a cancel made on another
     * node reaches them with the next lease renewal), and go back to the queue (their attempt not
     * counted) when the service closes, when its node runs no job of their batch any more, or when
     * none of their batch's jobs fetched ahead here has started for longer than a second and than
     * four times their type's measured length (the batch's jobs running here all run long): a free
     * slot of the batch, here or on another node, then takes them, and this service fetches no job
     * of their type ahead until one of its jobs here ends.
     *
     * @throws IllegalArgumentException if {@code n} is not between 0 and 10000
     */
    public Builder claimAhead(int n) {
      this.claimAhead = remember("claimAhead", Checks.between(n, 0, 10_000, "claimAhead"));
      return this;
    }

    /**
     * Sets the per-batch concurrency of batches that do not set their own (default 3).
     *
     * @throws IllegalArgumentException if {@code n} is not between 1 and {@value
     *     BatchRequest#MAX_CONCURRENCY}
     */
    public Builder defaultBatchConcurrency(int n) {
      this.defaultBatchConcurrency =
          remember(
              "defaultBatchConcurrency",
              Checks.between(n, 1, BatchRequest.MAX_CONCURRENCY, "defaultBatchConcurrency"));
      return this;
    }

    /**
     * Sets the attempts per job of batches that do not set their own (default 3).
     *
     * @throws IllegalArgumentException if {@code n} is not between 1 and {@value
     *     BatchRequest#MAX_ATTEMPTS}
     */
    public Builder defaultMaxAttempts(int n) {
      this.defaultMaxAttempts =
          remember(
              "defaultMaxAttempts",
              Checks.between(n, 1, BatchRequest.MAX_ATTEMPTS, "defaultMaxAttempts"));
      return this;
    }

    /**
     * Sets the time allowed per attempt for batches that do not set their own (default 15 minutes).
     *
     * @throws NullPointerException if {@code timeout} is null
     * @throws IllegalArgumentException if it is not between {@link BatchRequest#MIN_JOB_TIMEOUT} (1
     *     ms) and {@link BatchRequest#MAX_JOB_TIMEOUT} (365 days)
     */
    public Builder defaultJobTimeout(Duration timeout) {
      this.defaultJobTimeout =
          remember(
              "defaultJobTimeout",
              Checks.between(
                  timeout,
                  BatchRequest.MIN_JOB_TIMEOUT,
                  BatchRequest.MAX_JOB_TIMEOUT,
                  "defaultJobTimeout"));
      return this;
    }

    /**
     * Sets the exponential retry backoff: the first retry waits {@code initial}, each later one
     * twice as long, never more than {@code max} (defaults 1 second and 5 minutes). Retries wait in
     * the store, not in a thread, so they survive restarts.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code initial} is negative or {@code max} is less than
     *     it
     */
    public Builder retryBackoff(Duration initial, Duration max) {
      Checks.notNegative(initial, "retryBackoff initial");
      Checks.notNull(max, "retryBackoff max");
      if (max.compareTo(initial) < 0) {
        throw new IllegalArgumentException(
            "retryBackoff max must be at least initial (" + initial + "), was " + max);
      }
      this.retryInitialDelay = initial;
      this.retryMaxDelay = max;
      remember("retryBackoff", initial + ".." + max);
      return this;
    }

    /**
     * Sets the random spread of each retry delay, as a fraction of it (default 0.2: plus or minus
     * 20%), so that jobs that failed together do not retry together.
     *
     * @throws IllegalArgumentException if {@code fraction} is not within {@code [0, 1]}
     */
    public Builder retryJitter(double fraction) {
      this.retryJitter = remember("retryJitter", Checks.between(fraction, 0.0, 1.0, "retryJitter"));
      return this;
    }

    /**
     * Gives job type {@code jobType} a circuit breaker, so that a failing downstream does not burn
     * every attempt: after {@code failures} failed attempts of the type (on this service, timeouts
     * included) within {@code window}, the circuit opens, and no job of the type starts: they stay
     * queued and their batches wait, neither failing nor using attempts. After {@code openFor}, one
     * trial job runs; its success closes the circuit, its failure opens it for another {@code
     * openFor}. Listeners hear {@link BatchListener#circuitOpened} and {@link
     * BatchListener#circuitClosed}; {@link BatchService#statistics()} shows each breaker's {@link
     * CircuitState}. The breaker is per service, as its failures are.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code jobType} is blank or already has a breaker, {@code
     *     failures} is not positive, or {@code window} or {@code openFor} is not positive (a job
     *     type without a processor is refused by {@link #build()})
     */
    public Builder circuitBreaker(String jobType, int failures, Duration window, Duration openFor) {
      Checks.notBlank(jobType, "jobType", BatchRequest.MAX_JOB_TYPE_LENGTH);
      if (circuitBreakers.containsKey(jobType)) {
        throw new IllegalArgumentException(
            "a circuit breaker for job type '" + jobType + "' is already set");
      }
      circuitBreakers.put(
          jobType,
          new CircuitBreakerConfig(
              Checks.positive(failures, "circuitBreaker failures"),
              Checks.positive(window, "circuitBreaker window"),
              Checks.positive(openFor, "circuitBreaker openFor")));
      return this;
    }

    /**
     * Makes the service memory-aware: while the heap in use after the last garbage collection is
     * above {@code heapFraction} of its maximum, the service starts no new job; running jobs go on,
     * claimed jobs wait, and starting resumes once the heap is back below. Each episode is logged
     * once at INFO as it begins and as it ends. The heap is read from the {@code MemoryPoolMXBean}s
     * of the heap pools that report their usage after a collection, so garbage that the next
     * collection frees does not count.
     *
     * @throws IllegalArgumentException if {@code heapFraction} is not strictly between 0 and 1
     */
    public Builder memoryAware(double heapFraction) {
      return memoryAware(heapFraction, null);
    }

    /**
     * As {@link #memoryAware(double)}, with the fraction of memory in use read from {@code
     * usedFraction} instead of the heap: for a measure of your own (a container's memory, say), or
     * a test. It is called often, from the service's threads, and must be quick and thread-safe; if
     * it throws, the failure is logged once and starts go on. Null reads the heap, as {@link
     * #memoryAware(double)} does.
     *
     * @throws IllegalArgumentException if {@code heapFraction} is not strictly between 0 and 1
     */
    public Builder memoryAware(double heapFraction, DoubleSupplier usedFraction) {
      if (!(heapFraction > 0 && heapFraction < 1)) {
        throw new IllegalArgumentException(
            "memoryAware heapFraction must be strictly between 0 and 1, was " + heapFraction);
      }
      this.memoryAwareFraction = remember("memoryAware", heapFraction);
      this.memoryProbe = usedFraction;
      return this;
    }

    /**
     * Limits how many jobs of a type this service starts: at most {@code permits} per {@code per},
     * spread evenly (a Failsafe smooth rate limiter). The limit is per service: three services that
     * share a store let through three times the rate. For one limit over every service that shares
     * the store, use {@link #sharedRateLimit}; a type may have both.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code jobType} is blank or already limited, {@code
     *     permits} is not positive, or {@code per} is not positive
     */
    public Builder rateLimit(String jobType, int permits, Duration per) {
      Checks.notBlank(jobType, "jobType", BatchRequest.MAX_JOB_TYPE_LENGTH);
      if (rateLimits.containsKey(jobType)) {
        throw new IllegalArgumentException(
            "a rate limit for job type '" + jobType + "' is already set");
      }
      rateLimits.put(
          jobType,
          new RateLimit(
              Checks.positive(permits, "rateLimit permits"),
              Checks.positive(per, "rateLimit per")));
      return this;
    }

    /**
     * Limits how many jobs of a type start at most {@code permits} per {@code per} over every
     * service that shares the store: the store keeps a token bucket for the type, and a claim takes
     * a token for each job it hands out, in the same step. The bucket holds at most a tenth of the
     * permits (at least 1), so in any window of {@code per} at most {@code permits} plus that many
     * jobs start. Jobs of the type are never fetched ahead. See {@link #rateLimit} for a limit per
     * service. The limit travels with each service's claims: give every service that shares the
     * store the same one (a service without it claims the type without tokens). Buckets are kept,
     * one row per key ever used.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code jobType} is blank or already has a shared limit,
     *     {@code permits} is not between 1 and 1,000,000,000, or {@code per} is not between 1 ms
     *     and 1 day
     */
    public Builder sharedRateLimit(String jobType, int permits, Duration per) {
      return sharedRateLimit(jobType, Optional.empty(), permits, per);
    }

    /**
     * Like {@link #sharedRateLimit(String, int, Duration)}, with a bucket for each value the
     * batches have under metadata key {@code metadataKey}: with {@code "tenant"}, each tenant gets
     * {@code permits} per {@code per}. Batches without that key share the bucket of the empty
     * value.
     *
     * @throws NullPointerException if an argument is null
     * @throws IllegalArgumentException if {@code jobType} or {@code metadataKey} is blank, the type
     *     already has a shared limit, {@code permits} is not between 1 and 1,000,000,000, or {@code
     *     per} is not between 1 ms and 1 day
     */
    public Builder sharedRateLimit(String jobType, String metadataKey, int permits, Duration per) {
      Checks.notBlank(metadataKey, "metadataKey", BatchRequest.MAX_METADATA_KEY_LENGTH);
      return sharedRateLimit(jobType, Optional.of(metadataKey), permits, per);
    }

    private Builder sharedRateLimit(
        String jobType, Optional<String> metadataKey, int permits, Duration per) {
      Checks.notBlank(jobType, "jobType", BatchRequest.MAX_JOB_TYPE_LENGTH);
      if (sharedRateLimits.containsKey(jobType)) {
        throw new IllegalArgumentException(
            "a shared rate limit for job type '" + jobType + "' is already set");
      }
      Checks.between(permits, 1, 1_000_000_000, "sharedRateLimit permits");
      Checks.notNull(per, "sharedRateLimit per");
      sharedRateLimits.put(jobType, new SharedRateLimit(metadataKey, permits, per));
      return this;
    }

    /**
     * Adds a listener; listeners are called in the order they were added.
     *
     * @throws NullPointerException if {@code listener} is null
     */
    public Builder listener(BatchListener listener) {
      listeners.add(Checks.notNull(listener, "listener"));
      return this;
    }

    /**
     * Sets the clock for timestamps, retry times and leases (default {@link Clock#systemUTC()}).
     *
     * @throws NullPointerException if {@code clock} is null
     */
    public Builder clock(Clock clock) {
      this.clock = remember("clock", Checks.notNull(clock, "clock"));
      return this;
    }

    /**
     * Sets this node's id, stored as the owner of the jobs it runs (default: a random id).
     *
     * @throws NullPointerException if {@code nodeId} is null
     * @throws IllegalArgumentException if it is blank, longer than 100 characters, or starts with
     *     {@code pull:} (which marks jobs leased to workers, see {@link BatchService#poll})
     */
    public Builder nodeId(String nodeId) {
      Checks.notBlank(nodeId, "nodeId", 100);
      if (nodeId.startsWith(AttemptRecords.WORKER_PREFIX)) {
        throw new IllegalArgumentException(
            "nodeId must not start with '"
                + AttemptRecords.WORKER_PREFIX
                + "', which marks jobs leased to workers");
      }
      this.nodeId = remember("nodeId", nodeId);
      return this;
    }

    /**
     * Sets how long a claimed job stays leased to this node without a heartbeat (default 30
     * seconds). Heartbeats run every third of it; a node silent for longer loses its jobs to the
     * others.
     *
     * @throws NullPointerException if {@code lease} is null
     * @throws IllegalArgumentException if it is shorter than 100 milliseconds
     */
    public Builder leaseDuration(Duration lease) {
      Checks.notNull(lease, "leaseDuration");
      if (lease.toMillis() < 100) {
        throw new IllegalArgumentException("leaseDuration must be at least 100ms, was " + lease);
      }
      this.leaseDuration = remember("leaseDuration", lease);
      return this;
    }

    /**
     * Sets how often the store is asked for work while the service is busy (default 500 ms). When a
     * round finds nothing, the wait doubles up to {@link #maxPollInterval(Duration)}; work created
     * through this service, or announced by the store (PostgreSQL {@code LISTEN/NOTIFY}, or another
     * service on the same in-memory store), wakes it at once.
     *
     * @throws NullPointerException if {@code interval} is null
     * @throws IllegalArgumentException if it is not positive
     */
    public Builder pollInterval(Duration interval) {
      this.pollInterval = remember("pollInterval", Checks.positive(interval, "pollInterval"));
      return this;
    }

    /**
     * Sets the longest wait between two looks at the store while idle (default 5 seconds): work
     * created on other nodes of a store without notifications, and retries queued by them, are seen
     * within it. {@link #build()} fails if it was set shorter than the poll interval.
     *
     * @throws NullPointerException if {@code interval} is null
     * @throws IllegalArgumentException if it is not positive
     */
    public Builder maxPollInterval(Duration interval) {
      this.maxPollInterval =
          remember("maxPollInterval", Checks.positive(interval, "maxPollInterval"));
      return this;
    }

    /**
     * Sets how long a waiting batch takes to rise one priority level (default 30 seconds), so that
     * {@link Priority#LOW} work is never starved by a stream of more urgent batches.
     *
     * @throws NullPointerException if {@code step} is null
     * @throws IllegalArgumentException if it is not positive
     */
    public Builder priorityAging(Duration step) {
      this.priorityAging = remember("priorityAging", Checks.positive(step, "priorityAging"));
      return this;
    }

    /**
     * Sets how long {@link #close()} lets running jobs finish before interrupting them (default 30
     * seconds).
     *
     * @throws NullPointerException if {@code grace} is null
     * @throws IllegalArgumentException if it is negative
     */
    public Builder shutdownGracePeriod(Duration grace) {
      this.shutdownGracePeriod =
          remember("shutdownGracePeriod", Checks.notNegative(grace, "shutdownGracePeriod"));
      return this;
    }

    /**
     * Sets how long a job that was interrupted (its timeout passed, or it was cancelled) may take
     * to stop (default 5 seconds). A processor that ignores the interrupt longer has its job ended
     * anyway (failed or retried after a timeout, cancelled after a cancellation) and its slot given
     * back; its thread is abandoned to finish on its own, and whatever it returns is ignored.
     *
     * @throws NullPointerException if {@code grace} is null
     * @throws IllegalArgumentException if it is negative
     */
    public Builder interruptGracePeriod(Duration grace) {
      this.interruptGracePeriod =
          remember("interruptGracePeriod", Checks.notNegative(grace, "interruptGracePeriod"));
      return this;
    }

    /**
     * Sets the most items one batch may have (default 100,000).
     *
     * @throws IllegalArgumentException if {@code n} is not between 1 and 10,000,000
     */
    public Builder maxItemsPerBatch(int n) {
      this.maxItemsPerBatch =
          remember("maxItemsPerBatch", Checks.between(n, 1, 10_000_000, "maxItemsPerBatch"));
      return this;
    }

    /**
     * Sets the largest payload, in UTF-8 bytes (default 1 MiB).
     *
     * @throws IllegalArgumentException if {@code bytes} is not between 1 and 64 MiB
     */
    public Builder maxPayloadBytes(int bytes) {
      this.maxPayloadBytes =
          remember(
              "maxPayloadBytes", Checks.between(bytes, 1, 64 * 1024 * 1024, "maxPayloadBytes"));
      return this;
    }

    /**
     * Sets how long history is kept (default 30 days): attempt records ({@link
     * BatchService#getJobHistory}) and batch events ({@link BatchService#getBatchEvents}) older
     * than this are deleted by the services that share the store, now and then (every ten minutes,
     * a thousand rows at a time). A finished job's last attempt is part of the job and stays as
     * long as it; deleting a batch deletes all of its history at once.
     *
     * @throws NullPointerException if {@code retention} is null
     * @throws IllegalArgumentException if {@code retention} is shorter than one minute or longer
     *     than 100 years
     */
    public Builder historyRetention(Duration retention) {
      this.historyRetention =
          remember(
              "historyRetention",
              Checks.between(
                  retention, Duration.ofMinutes(1), Duration.ofDays(36_525), "historyRetention"));
      return this;
    }

    /**
     * Adds an address told of the given events ({@link Webhook#EVENTS}: started, cancelled,
     * finished; with none given, finished) of every batch this service creates, besides the batch's
     * own ({@link BatchRequest.Builder#webhook}). The webhooks are stored with each batch as it is
     * created, so that whichever service records the event writes its notification, in the same
     * step; the services that have a {@link #webhookSecret} send them. Requires a {@link
     * #webhookSecret}.
     *
     * <pre>{@code
     * BatchService.builder()
     *     .webhook(URI.create("https://example.com/hooks/batches"))
     *     .webhookSecret(System.getenv("BATCHKIT_WEBHOOK_SECRET"))
     * }</pre>
     *
     * @throws NullPointerException if {@code url} or an event is null
     * @throws IllegalArgumentException if {@code url} is not an absolute {@code http} or {@code
     *     https} address, an event is not among {@link Webhook#EVENTS}, or the service has {@value
     *     Webhook#MAX_PER_BATCH} webhooks already
     */
    public Builder webhook(URI url, BatchEvent.Type... events) {
      Checks.notNull(events, "events");
      Webhook webhook =
          events.length == 0
              ? Webhook.onFinish(url)
              : new Webhook(url, new HashSet<>(Arrays.asList(events)));
      if (webhooks.size() >= Webhook.MAX_PER_BATCH) {
        throw new IllegalArgumentException(
            "a service has at most " + Webhook.MAX_PER_BATCH + " webhooks");
      }
      webhooks.add(webhook);
      return this;
    }

    /**
     * Sets the secret that signs every webhook notification this service sends (an HMAC-SHA256 of
     * the body and a time stamp, in the header {@code Batchkit-Signature}: see the README), and
     * makes the service send them: the notifications of every batch in the store, whichever service
     * created it, shared with the other services that have a secret. Give every service that shares
     * a store the same secret. A service without one sends none, and refuses a batch that has
     * webhooks, so that a batch whose notifications nobody could sign is never stored.
     *
     * @throws NullPointerException if {@code secret} is null
     * @throws IllegalArgumentException if it is shorter than 16 characters
     */
    public Builder webhookSecret(String secret) {
      Checks.notNull(secret, "webhookSecret");
      if (secret.length() < 16) {
        throw new IllegalArgumentException("webhookSecret must have at least 16 characters");
      }
      this.webhookSecret = secret;
      set.put("webhookSecret", "(set)");
      return this;
    }

    /**
     * Checks the settings together, finds {@link JobProcessorProvider}s (unless turned off), and
     * starts the service.
     *
     * @throws IllegalArgumentException if a rate limit or a circuit breaker names a job type with
     *     no processor, a discovered provider's job type clashes with a registered one or another
     *     provider's, maxPollInterval was set shorter than pollInterval, or a webhook was added
     *     without a webhookSecret or on a store that does not keep webhooks ({@link
     *     JobStore#keepsWebhooks})
     * @throws IllegalStateException if a live node with this {@link #nodeId} is registered in the
     *     store (see {@link BatchService#nodes()})
     */
    public BatchService build() {
      Map<String, JobProcessor> all = new LinkedHashMap<>(processors);
      if (discoverProcessors) {
        ProcessorDiscovery.discover(all);
      }
      Duration maxPoll = maxPollInterval;
      if (maxPoll.compareTo(pollInterval) < 0) {
        if (set.containsKey("maxPollInterval")) {
          throw new IllegalArgumentException(
              "maxPollInterval ("
                  + maxPoll
                  + ") must not be shorter than pollInterval ("
                  + pollInterval
                  + ")");
        }
        maxPoll = pollInterval; // only pollInterval was raised: idle waits start and stay there
      }
      for (String type : rateLimits.keySet()) {
        if (!all.containsKey(type) && !allowUnknownJobTypes) {
          throw new IllegalArgumentException(
              "rateLimit names job type '"
                  + type
                  + "', which has no processor (with allowUnknownJobTypes(true), it may limit"
                  + " the jobs of a type that pull workers run)");
        }
      }
      for (String type : sharedRateLimits.keySet()) {
        if (!all.containsKey(type) && !allowUnknownJobTypes) {
          throw new IllegalArgumentException(
              "sharedRateLimit names job type '"
                  + type
                  + "', which has no processor (with allowUnknownJobTypes(true), it may limit"
                  + " the jobs of a type that pull workers run)");
        }
      }
      if (!webhooks.isEmpty() && webhookSecret == null) {
        throw new IllegalArgumentException(
            "webhook needs a webhookSecret to sign its notifications with");
      }
      JobStore chosen = store == null ? JobStore.inMemory() : store;
      if (!webhooks.isEmpty() && !chosen.keepsWebhooks()) {
        throw new IllegalArgumentException(
            "webhook needs a store that keeps webhooks; "
                + chosen.getClass().getName()
                + " does not");
      }
      for (String type : circuitBreakers.keySet()) {
        if (!all.containsKey(type)) {
          throw new IllegalArgumentException(
              "circuitBreaker names job type '" + type + "', which has no processor");
        }
      }
      ServiceConfig config =
          new ServiceConfig(
              chosen,
              all,
              allowUnknownJobTypes,
              maxConcurrency,
              claimAhead,
              defaultBatchConcurrency,
              defaultMaxAttempts,
              defaultJobTimeout,
              retryInitialDelay,
              retryMaxDelay,
              retryJitter,
              rateLimits,
              sharedRateLimits,
              circuitBreakers,
              memoryAwareFraction,
              memoryProbe,
              listeners,
              clock,
              nodeId == null ? "node-" + UUID.randomUUID().toString().substring(0, 8) : nodeId,
              leaseDuration,
              pollInterval,
              maxPoll,
              priorityAging,
              shutdownGracePeriod,
              interruptGracePeriod,
              maxItemsPerBatch,
              maxPayloadBytes,
              historyRetention,
              webhooks,
              webhookSecret);
      return new DefaultBatchService(config);
    }

    /** Shows the settings that were set, not the defaults. */
    @Override
    public String toString() {
      List<String> parts = new ArrayList<>();
      if (!processors.isEmpty()) {
        parts.add("processors=" + processors.keySet());
      }
      if (!rateLimits.isEmpty()) {
        parts.add("rateLimits=" + rateLimits);
      }
      if (!sharedRateLimits.isEmpty()) {
        parts.add("sharedRateLimits=" + sharedRateLimits);
      }
      if (!listeners.isEmpty()) {
        parts.add("listeners=" + listeners.size());
      }
      if (!webhooks.isEmpty()) {
        parts.add("webhooks=" + webhooks.size());
      }
      set.forEach(
          (name, value) ->
              parts.add(
                  name
                      + "="
                      + (value instanceof JobStore ? value.getClass().getSimpleName() : value)));
      return "BatchService.Builder{" + String.join(", ", parts) + "}";
    }
  }
}
