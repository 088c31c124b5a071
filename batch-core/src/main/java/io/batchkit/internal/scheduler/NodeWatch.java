package io.batchkit.internal.scheduler;

import io.batchkit.Node;
import io.batchkit.internal.util.Version;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.JobStoreException;
import java.net.InetAddress;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This node's row in the store's registry of nodes, and the watch over the other nodes: registers
 * the node when the service starts (the store then takes back what a former node with its id left),
 * reports it every {@link #HEARTBEAT_INTERVAL}, asks the store every {@link #CHECK_INTERVAL} which
 * nodes died so that their jobs come back at once, and marks the node stopped when the service
 * closes. A class of its own so that "how does a dead node's work come back" is found by name; the
 * lease rule that backs it up is in {@link LeaseKeeper}.
 *
 * <p>Ownership: {@link #register()} runs in the service's constructor before the dispatcher starts,
 * {@link #deregister()} in {@code close()} after it stopped; everything else runs on the dispatcher
 * thread, which owns every mutable field from its start.
 */
final class NodeWatch {
  /** Logs under the service's name, as the other parts do. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  /** How often the store is asked for dead nodes: twice a second, so that recovery takes ~1 s. */
  static final Duration CHECK_INTERVAL = Duration.ofMillis(500);

  /** How often this node's row is updated with its running jobs and heartbeat time. */
  static final Duration HEARTBEAT_INTERVAL = Duration.ofSeconds(5);

  /**
   * On a store without a session signal, how long a node may stay silent before it is marked dead
   * in the registry (its jobs still wait for their leases).
   */
  static final Duration STALE_AFTER = HEARTBEAT_INTERVAL.multipliedBy(3);

  /** How long the rows of nodes that ended are kept. */
  static final Duration RETENTION = Duration.ofDays(1);

  private static final String HOST = host();

  private final ServiceConfig config;
  private final JobStore store;
  private final NodeState node;
  private final JobRunner runner;
  private final LeaseKeeper leases;
  private final Stats stats;
  private final Instant startedAt;

  // set by register(), then owned by the dispatcher thread (which starts after it), except the two
  // volatile flags that close() reads or sets
  /** Written by the constructor's thread, then the dispatcher's; read by {@code close()}. */
  private volatile boolean registered;

  private boolean refusalLogged;
  private boolean tickFailing;

  /** Set by {@link #deregister()} in {@code close()}; read by the dispatcher thread. */
  private volatile boolean deregistered;

  private long lastCheckNanos;
  private long lastHeartbeatNanos;

  NodeWatch(
      ServiceConfig config, NodeState node, JobRunner runner, LeaseKeeper leases, Stats stats) {
    this.config = config;
    this.stats = stats;
    this.store = config.store();
    this.node = node;
    this.runner = runner;
    this.leases = leases;
    this.startedAt = config.clock().instant();
  }

  /**
   * Registers this node; for the service's constructor. A store that cannot be reached now is
   * logged, and the dispatcher registers the node before its first claim ({@link
   * #ensureRegistered}).
   *
   * @throws IllegalStateException if a live node already uses this node id
   */
  void register() {
    try {
      doRegister();
    } catch (IllegalStateException e) {
      throw e;
    } catch (JobStoreException e) {
      if (!e.isRetryable()) {
        // not an outage: say so now (a schema without the nodes table, say), not in a WARN loop
        throw new IllegalStateException(
            "node " + config.nodeId() + " cannot register in the job store: " + e.getMessage(), e);
      }
      LOG.warn(
          "could not register node {} in the job store ({}); it registers before its first claim",
          config.nodeId(),
          e.toString());
    } catch (RuntimeException e) {
      LOG.warn(
          "could not register node {} in the job store ({}); it registers before its first claim",
          config.nodeId(),
          e.toString());
    }
  }

  /**
   * Registers the node if it is not yet; returns whether it is, so that the dispatcher claims
   * nothing before. A store failure propagates (the dispatcher backs off); a live node with the
   * same id is logged once at ERROR, and the registration is tried again each round.
   */
  boolean ensureRegistered() {
    if (!registered) {
      try {
        doRegister();
      } catch (IllegalStateException e) {
        if (!refusalLogged) {
          refusalLogged = true;
          LOG.error(
              "node {} claims no job: {}; give each service its own node id",
              config.nodeId(),
              e.getMessage());
        }
      }
    }
    return registered;
  }

  private void doRegister() {
    CompletionResult released =
        store.registerNode(
            Node.starting(
                config.nodeId(), HOST, Version.CURRENT, config.maxConcurrency(), startedAt));
    registered = true;
    long now = System.nanoTime();
    lastCheckNanos = now;
    lastHeartbeatNanos = now;
    if (!released.batches().isEmpty()) {
      LOG.info(
          "node {} took back the jobs a former node with its id left running", config.nodeId());
      runner.afterChange(released.batches());
    }
  }

  /**
   * Reports this node and asks for dead nodes when each is due; returns the nanoseconds until the
   * next is due, for the dispatcher's sleep. A store failure propagates.
   */
  long tick() {
    if (!registered || deregistered) {
      return CHECK_INTERVAL.toNanos();
    }
    try {
      return doTick();
    } catch (RuntimeException e) {
      // claims and outcomes do not depend on this: they carry on, and the next check tries again
      if (!tickFailing) {
        tickFailing = true;
        LOG.warn("node {} could not check for dead nodes ({})", config.nodeId(), e.toString());
      }
      return CHECK_INTERVAL.toNanos();
    }
  }

  private long doTick() {
    long now = System.nanoTime();
    if (now - lastHeartbeatNanos >= HEARTBEAT_INTERVAL.toNanos()) {
      lastHeartbeatNanos = now;
      reportAlive();
    }
    if (now - lastCheckNanos >= CHECK_INTERVAL.toNanos()) {
      lastCheckNanos = now;
      Instant at = config.clock().instant();
      CompletionResult reaped = store.reapDeadNodes(at, at.minus(STALE_AFTER), at.minus(RETENTION));
      runner.afterChange(reaped.batches());
    }
    tickFailing = false;
    long toHeartbeat = HEARTBEAT_INTERVAL.toNanos() - (System.nanoTime() - lastHeartbeatNanos);
    long toCheck = CHECK_INTERVAL.toNanos() - (System.nanoTime() - lastCheckNanos);
    return Math.max(0, Math.min(toHeartbeat, toCheck));
  }

  /** This node as it is now: its running jobs, and the jobs it ended in the last hour. */
  private Node current() {
    Instant now = config.clock().instant();
    long[] lastHour = stats.endedLastHour(Math.floorDiv(now.getEpochSecond(), 60));
    return new Node(
        config.nodeId(),
        HOST,
        Version.CURRENT,
        config.maxConcurrency(),
        node.runningCount.get(),
        startedAt,
        now.isBefore(startedAt) ? startedAt : now,
        Node.Status.LIVE,
        Optional.empty(),
        lastHour[0],
        lastHour[1]);
  }

  private void reportAlive() {
    boolean wasLive = store.nodeHeartbeat(current());
    if (!wasLive && !deregistered) {
      LOG.warn(
          "node {} was marked dead in the job store while it ran (it lost its database session, or"
              + " did not report for a while); the jobs it held may run elsewhere now, so its leases"
              + " are checked at once",
          config.nodeId());
      leases.heartbeat(); // stops here the jobs whose lease went to another node
    }
  }

  /**
   * Marks the node stopped; for {@code close()}, after the dispatcher stopped (or gave up waiting
   * for it: from then on {@link #tick} does nothing, so it cannot report the node alive again).
   */
  void deregister() {
    deregistered = true;
    if (!registered) {
      return;
    }
    try {
      store.nodeHeartbeat(current()); // its last figures, with the jobs of its last seconds
      store.deregisterNode(config.nodeId(), config.clock().instant());
    } catch (RuntimeException e) {
      LOG.warn(
          "could not mark node {} stopped in the job store ({}); it will be marked dead",
          config.nodeId(),
          e.toString());
    }
  }

  private static String host() {
    String name;
    try {
      name = InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException | RuntimeException e) {
      name = System.getenv().getOrDefault("HOSTNAME", "unknown");
    }
    if (name == null || name.isBlank()) {
      name = "unknown";
    }
    return name.length() > Node.MAX_TEXT_LENGTH ? name.substring(0, Node.MAX_TEXT_LENGTH) : name;
  }
}
