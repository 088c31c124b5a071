package io.batchkit.internal.scheduler;

import dev.failsafe.RateLimiter;
import io.batchkit.spi.ClaimRequest;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * What a dispatch round asks the store for, per job type: how many jobs it may claim into slots
 * (the free slots, less what an open circuit or a spent rate limit allows) and how many it may
 * fetch ahead ({@link FetchAhead}); and, between rounds, the rate-limit permits the node banked and
 * when the next claim is worth making for them. A class of its own so that the dispatch round reads
 * as claim, start, record, and the rules of rate limits are found by name.
 *
 * <p>Rate limits: before the claim, permits are taken from each type's limiter up to the free slots
 * (at least one) and passed as the type's claim limit (at most the free slots: a rate-limited job
 * is never fetched ahead). Of the permits a claim leaves unused, at most one is kept for the next
 * round, so a service that was idle cannot start a burst. When a type has a permit but no slot is
 * free, because workers keep their slots for the next job, {@link NodeState#slotWanted} asks the
 * next worker that finishes to give its slot back. A type whose rate limit the store holds is
 * claimed as the store's bucket allows, never fetched ahead.
 *
 * <p>Ownership: the dispatcher thread owns every mutable field; the rate limiters are shared with
 * {@link PullWorkers} and are thread-safe.
 */
final class ClaimPlan {
  private static final int EMPTY_CLAIMS_BEFORE_IDLE = 3;

  /** What one round asks for: the claim limit and the fetch-ahead depth of each type. */
  record Round(Map<String, Integer> types, Map<String, Integer> fetch) {}

  private final ServiceConfig config;
  private final NodeState node;
  private final FetchAhead fetchAhead;
  private final CircuitBreakers breakers;
  private final Map<String, RateLimiter<Object>> rateLimiters;
  private final long idleCheckNanos;

  private final Map<String, Integer> bankedPermits = new HashMap<>();

  /**
   * Types whose rate limit the store holds, with how many claims in a row asked for them and got
   * none (see {@link #waitForTokens}).
   */
  private final Map<String, Integer> emptySharedClaims = new HashMap<>();

  /**
   * Rate-limited types a claim found no due job of, with when: no slot is asked for them for a poll
   * interval after that, so that an idle rate-limited type does not take slots from busy ones.
   */
  private final Map<String, Long> noJobsOfTypeSince = new HashMap<>();

  /** How soon a claim is worth making for a rate-limited type, as of this round; or MAX_VALUE. */
  private long rateLimitWaitNanos = Long.MAX_VALUE;

  ClaimPlan(
      ServiceConfig config,
      NodeState node,
      FetchAhead fetchAhead,
      CircuitBreakers breakers,
      Map<String, RateLimiter<Object>> rateLimiters) {
    this.config = config;
    this.node = node;
    this.fetchAhead = fetchAhead;
    this.breakers = breakers;
    this.rateLimiters = rateLimiters;
    this.idleCheckNanos = config.pollInterval().toNanos();
  }

  /** Begins a round: no rate limit has asked for an earlier claim yet. */
  void startRound() {
    rateLimitWaitNanos = Long.MAX_VALUE;
  }

  /**
   * Returns how soon the next claim is worth making for a rate-limited type (its next permit or
   * token), as this round found; Long.MAX_VALUE if none asks for one.
   */
  long rateLimitWaitNanos() {
    return rateLimitWaitNanos;
  }

  /** Plans the claim of a round with {@code free} slots of the node free (negative: none). */
  Round plan(int free, long nowNanos) {
    Map<String, Integer> types = new HashMap<>();
    for (String type : config.processors().keySet()) {
      RateLimiter<Object> limiter = rateLimiters.get(type);
      if (limiter == null) {
        types.put(type, breakers.allowance(type, Math.max(free, 0)));
        continue;
      }
      int banked = bankedPermits.getOrDefault(type, 0);
      while (banked < Math.max(free, 1) && limiter.tryAcquirePermit()) {
        banked++;
      }
      bankedPermits.put(type, banked);
      types.put(type, breakers.allowance(type, Math.min(banked, Math.max(free, 0))));
      if (banked == 0) {
        RateLimit limit = config.rateLimits().get(type);
        rateLimitWaitNanos =
            Math.min(rateLimitWaitNanos, Math.max(1, limit.per().toNanos() / limit.permits()));
      } else if (free <= 0
          && breakers.isClosed(type)
          && nowNanos - noJobsOfTypeSince.getOrDefault(type, nowNanos - idleCheckNanos)
              >= idleCheckNanos) {
        node.slotWanted.set(true);
      }
    }
    return new Round(types, fetchPlan(free));
  }

  /**
   * Returns how many jobs of each type to fetch ahead with {@code free} slots of the node free (0
   * or less: only for the slots it holds): about 100 ms of work for those slots ({@link
   * FetchAhead}), less what waits fetched already; none of a type with a rate limit (the store's
   * bucket or the node's limiter hands those out one by one) or whose circuit is not closed. Reads
   * only state that any thread may read, so that the {@link Fetcher} plans with it too.
   */
  Map<String, Integer> fetchPlan(int free) {
    Map<String, Integer> fetch = new HashMap<>();
    Map<String, Integer> ready = node.readyPerType();
    Set<String> slotTypes = null;
    for (String type : config.processors().keySet()) {
      if (rateLimiters.containsKey(type) || config.sharedRateLimits().containsKey(type)) {
        continue;
      }
      int slots = node.slotsOfType(type) + Math.max(free, 0);
      int more = fetchAhead.depth(type, slots) - ready.getOrDefault(type, 0);
      if (more > 0 && breakers.isClosed(type)) {
        if (slotTypes == null) {
          slotTypes = node.slotTypes();
        }
        // the store fetches only for a node that holds a slot of the batch, or gets one now
        if (free > 0 || slotTypes.contains(type)) {
          fetch.put(type, Math.min(more, ClaimRequest.MAX_FETCH_AHEAD));
        }
      }
    }
    return fetch;
  }

  /** Counts a job the claim gave a slot: for a rate-limited type, its banked permit is spent. */
  void spent(String type) {
    if (rateLimiters.containsKey(type)) {
      bankedPermits.computeIfPresent(type, (t, banked) -> Math.max(0, banked - 1));
    }
  }

  /**
   * Learns from what the round's claim gave, per type, of what it asked: which rate-limited types
   * had nothing due, the permits kept for the next round, and when the store's buckets refill.
   */
  void claimed(Round round, Map<String, Integer> claimedPerType, long nowNanos) {
    Map<String, Integer> types = round.types();
    for (Map.Entry<String, Integer> offered : types.entrySet()) {
      if (rateLimiters.containsKey(offered.getKey())) {
        if (offered.getValue() > 0 && !claimedPerType.containsKey(offered.getKey())) {
          noJobsOfTypeSince.put(offered.getKey(), nowNanos); // none due: stop asking for a slot
        } else if (claimedPerType.containsKey(offered.getKey())) {
          noJobsOfTypeSince.remove(offered.getKey());
        }
      }
    }
    bankedPermits.replaceAll((type, banked) -> Math.min(banked, 1));
    waitForTokens(types, claimedPerType);
  }

  /**
   * For a type whose rate limit the store holds: when a claim got fewer jobs than it asked for, the
   * bucket may be empty, so the next claim is due when the next token is; after {@link
   * #EMPTY_CLAIMS_BEFORE_IDLE} such claims in a row that got none, the type has likely run out of
   * work, and the dispatcher polls as usual.
   */
  private void waitForTokens(Map<String, Integer> offered, Map<String, Integer> claimedPerType) {
    config
        .sharedRateLimits()
        .forEach(
            (type, limit) -> {
              int asked = offered.getOrDefault(type, 0);
              int got = claimedPerType.getOrDefault(type, 0);
              if (asked == 0 || got >= asked) {
                emptySharedClaims.remove(type);
                return;
              }
              int streak = got > 0 ? 0 : emptySharedClaims.merge(type, 1, Integer::sum);
              if (got > 0) {
                emptySharedClaims.remove(type);
              }
              if (streak < EMPTY_CLAIMS_BEFORE_IDLE) {
                long nanosPerToken = Math.max(1, limit.per().toNanos() / limit.permits());
                rateLimitWaitNanos = Math.min(rateLimitWaitNanos, nanosPerToken);
              }
            });
  }
}
