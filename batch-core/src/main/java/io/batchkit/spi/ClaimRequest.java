package io.batchkit.spi;

import io.batchkit.Priority;
import io.batchkit.internal.util.Checks;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * Asks {@link JobStore#claim} for up to {@code maxJobs} due jobs.
 *
 * <p>Batches are served in order of their dispatch key, {@link #dispatchKey(Priority, Instant)}:
 * {@code priority.rank() * agingStep + lastServedAt} in milliseconds, lowest first; ties go to the
 * batch served least recently (then the lower batch id), so turns hold even within one millisecond.
 * A batch's {@code lastServedAt} starts as its start time and becomes {@code now} whenever a claim
 * gives it jobs for its slots (jobs fetched ahead need not mark it: a fetch happens only when one
 * batch has queued jobs of the request's types). So higher priorities run first, batches of equal
 * priority take turns, and a batch that has waited one {@code agingStep} longer than another counts
 * as one priority level higher.
 *
 * <h2>Slots, and jobs fetched ahead</h2>
 *
 * A batch's limit ({@link io.batchkit.Batch#maxConcurrency()}) bounds its <em>slots</em>: the jobs
 * that may run at once across every node. The store counts the slots each node holds per batch. A
 * claim grants one slot with each job it hands out for a free slot ({@link ClaimedJob#holdsSlot()}
 * is true), at most the batch's free slots. A node keeps a slot while it runs jobs of that batch:
 * when a job ends, it may start a job of the same batch that it fetched ahead in the slot, without
 * asking the store; the job's outcome then keeps the slot ({@link JobOutcome#releasesSlot()} is
 * false), and the outcome of the last job it runs in it gives the slot back.
 *
 * <p>Besides the jobs for its slots, a claim may <em>fetch ahead</em> up to {@link
 * #fetchAhead()}{@code .get(type)} more jobs of one batch, without slots: leased to the node (so
 * counted as processing in the batch's progress), but started only in a slot the node already
 * holds. It does so only when that batch is the one batch with queued jobs of the request's job
 * types, so fetching ahead never makes another batch wait for its turn, and only when the node
 * holds a slot of that batch once the claim is made. A store that fetches aside ({@link
 * JobStore#fetchesAside}) checks both without the batch's lock: a slot the node gives back as the
 * fetch runs leaves it jobs no slot of its can start, which it gives back unstarted. Jobs are
 * fetched in their order, except that a job which comes back to the queue or falls due before where
 * the node's last fetch ended may be fetched a little later (see {@link JobStore#claim}).
 *
 * @param nodeId the claiming node, stored as the jobs' owner
 * @param maxJobs the most jobs to claim for free slots: each gets a slot of its batch; 0 when the
 *     claim only fetches ahead
 * @param now the current time: jobs whose retry time is after it are not due
 * @param leaseUntil the lease expiry to store with each claimed job
 * @param agingStep how much waiting raises a batch by one priority level
 * @param jobTypes the job types the node runs, each with the most jobs of that type to claim for
 *     free slots (less than {@code maxJobs} for a rate-limited type); jobs of types not named here
 *     or in {@code fetchAhead} are left for other nodes
 * @param fetchAhead job types whose jobs may be fetched ahead, each with the most to fetch
 * @param sharedRateLimits job types whose starts the store limits for all nodes: a job of such a
 *     type is claimed only with a token of its bucket (see {@link SharedRateLimit}), and never
 *     fetched ahead
 */
public record ClaimRequest(
    String nodeId,
    int maxJobs,
    Instant now,
    Instant leaseUntil,
    Duration agingStep,
    Map<String, Integer> jobTypes,
    Map<String, Integer> fetchAhead,
    Map<String, SharedRateLimit> sharedRateLimits) {

  /** The most jobs one claim may fetch ahead of one type. */
  public static final int MAX_FETCH_AHEAD = 10_000;

  /**
   * Creates a request; copies the maps.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code maxJobs} is negative, a limit or a fetch is
   *     negative, a fetch is over {@link #MAX_FETCH_AHEAD}, or {@code agingStep} is not positive
   */
  public ClaimRequest {
    Checks.notBlank(nodeId, "nodeId");
    Checks.notNegative(maxJobs, "maxJobs");
    Checks.notNull(now, "now");
    Checks.notNull(leaseUntil, "leaseUntil");
    Checks.positive(agingStep, "agingStep");
    jobTypes = Map.copyOf(Checks.notNull(jobTypes, "jobTypes"));
    // each message is made only when it is thrown: a worker of the in-memory store makes a request
    // per job
    jobTypes.forEach(
        (type, limit) -> {
          if (limit < 0) {
            Checks.notNegative(limit, "jobTypes[" + type + "]");
          }
        });
    fetchAhead = Map.copyOf(Checks.notNull(fetchAhead, "fetchAhead"));
    fetchAhead.forEach(
        (type, most) -> {
          if (most < 0 || most > MAX_FETCH_AHEAD) {
            Checks.between(most, 0, MAX_FETCH_AHEAD, "fetchAhead[" + type + "]");
          }
        });
    sharedRateLimits = Map.copyOf(Checks.notNull(sharedRateLimits, "sharedRateLimits"));
  }

  /**
   * Creates a request that fetches nothing ahead and draws on no rate bucket.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException as the canonical constructor says
   */
  public ClaimRequest(
      String nodeId,
      int maxJobs,
      Instant now,
      Instant leaseUntil,
      Duration agingStep,
      Map<String, Integer> jobTypes) {
    this(nodeId, maxJobs, now, leaseUntil, agingStep, jobTypes, Map.of(), Map.of());
  }

  /**
   * Returns the most jobs of {@code jobType} this claim may fetch ahead: 0 for a type not named in
   * {@code fetchAhead}, and for one with a rate limit in {@code sharedRateLimits}.
   *
   * @throws NullPointerException if {@code jobType} is null
   */
  public int fetchAheadFor(String jobType) {
    Checks.notNull(jobType, "jobType");
    return sharedRateLimits.containsKey(jobType) ? 0 : fetchAhead.getOrDefault(jobType, 0);
  }

  /**
   * Returns the most jobs of {@code jobType} this claim may take: 0 for a type the node does not
   * run.
   *
   * @throws NullPointerException if {@code jobType} is null
   */
  public int limitFor(String jobType) {
    return jobTypes.getOrDefault(Checks.notNull(jobType, "jobType"), 0);
  }

  /**
   * Returns the dispatch key of a batch: lower keys are served first.
   *
   * @throws NullPointerException if an argument is null
   */
  public long dispatchKey(Priority priority, Instant lastServedAt) {
    return priority.rank() * agingStep.toMillis() + lastServedAt.toEpochMilli();
  }
}
