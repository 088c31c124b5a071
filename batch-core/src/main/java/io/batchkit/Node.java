package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.time.Instant;
import java.util.Optional;

/**
 * One service (a node) that shares a store, as the store's registry of nodes last saw it: what it
 * is, when it started, when it last reported, how many jobs it runs, and whether it is alive. Read
 * with {@link BatchService#nodes()}.
 *
 * <p>How a store tells that a node died depends on the store. On PostgreSQL and MariaDB each node
 * holds a session lock on a connection of its own, which the database server releases as soon as
 * the node's process is gone: its jobs go back to the queue within about a second, and its row
 * becomes {@link Status#DEAD}. Elsewhere a node counts as dead when it has not reported for a
 * while, and its jobs come back when their leases expire.
 *
 * @param nodeId the node's id ({@code BatchService.Builder.nodeId}), unique among live nodes
 * @param host the host it runs on, as the JVM names it
 * @param version the batchkit version it runs
 * @param slots the most jobs it runs at once ({@code maxConcurrency})
 * @param running how many jobs it ran when it last reported
 * @param startedAt when it registered
 * @param lastHeartbeat when it last reported; not after {@code startedAt} only at registration
 * @param status whether it is alive
 * @param endedAt when it stopped or was found dead; present exactly when it is not {@link
 *     Status#LIVE}
 * @param succeededLastHour jobs it ran to success in the hour before it last reported, as its
 *     processors concluded, and jobs leased to workers whose success was reported through it (see
 *     {@link StoreStatistics})
 * @param failedLastHour jobs that failed for good on it (no attempt left) in that hour, or whose
 *     worker reported through it that they failed for good
 */
public record Node(
    String nodeId,
    String host,
    String version,
    int slots,
    int running,
    Instant startedAt,
    Instant lastHeartbeat,
    Status status,
    Optional<Instant> endedAt,
    long succeededLastHour,
    long failedLastHour) {

  /** The longest node id, host or version a node may have. */
  public static final int MAX_TEXT_LENGTH = 100;

  /** Whether a node is alive. */
  public enum Status {
    /** It runs, as far as the store can tell. */
    LIVE,
    /** It closed: it handed its jobs back. */
    STOPPED,
    /** It died or stopped reporting; its jobs were taken back or wait for their leases. */
    DEAD
  }

  /**
   * Creates a node record.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if a text is blank or longer than {@value #MAX_TEXT_LENGTH},
   *     {@code slots} is not positive, {@code running} or a count of the last hour is negative,
   *     {@code lastHeartbeat} is before {@code startedAt}, or {@code endedAt} is present for a live
   *     node or missing for another
   */
  public Node {
    Checks.notBlank(nodeId, "nodeId", MAX_TEXT_LENGTH);
    Checks.notBlank(host, "host", MAX_TEXT_LENGTH);
    Checks.notBlank(version, "version", MAX_TEXT_LENGTH);
    Checks.positive(slots, "slots");
    Checks.notNegative(running, "running");
    Checks.notNull(startedAt, "startedAt");
    Checks.notNull(lastHeartbeat, "lastHeartbeat");
    Checks.notNull(status, "status");
    Checks.notNull(endedAt, "endedAt");
    if (lastHeartbeat.isBefore(startedAt)) {
      throw new IllegalArgumentException(
          "lastHeartbeat " + lastHeartbeat + " is before startedAt " + startedAt);
    }
    if (endedAt.isPresent() == (status == Status.LIVE)) {
      throw new IllegalArgumentException(
          "endedAt must be present exactly when the node is not LIVE (status " + status + ")");
    }
    if (succeededLastHour < 0 || failedLastHour < 0) {
      throw new IllegalArgumentException(
          "the counts of the last hour must not be negative, were "
              + succeededLastHour
              + " and "
              + failedLastHour);
    }
  }

  /**
   * Creates a node record without counts of the last hour (both zero).
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException as the canonical constructor does
   */
  public Node(
      String nodeId,
      String host,
      String version,
      int slots,
      int running,
      Instant startedAt,
      Instant lastHeartbeat,
      Status status,
      Optional<Instant> endedAt) {
    this(nodeId, host, version, slots, running, startedAt, lastHeartbeat, status, endedAt, 0, 0);
  }

  /**
   * Returns a live node that has just started: no job running, last heartbeat now.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException as the constructor does
   */
  public static Node starting(
      String nodeId, String host, String version, int slots, Instant startedAt) {
    return new Node(
        nodeId, host, version, slots, 0, startedAt, startedAt, Status.LIVE, Optional.empty());
  }

  /** Returns whether the node is {@link Status#LIVE}. */
  public boolean isLive() {
    return status == Status.LIVE;
  }
}
