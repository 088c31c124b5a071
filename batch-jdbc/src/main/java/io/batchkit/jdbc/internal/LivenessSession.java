package io.batchkit.jdbc.internal;

import io.batchkit.internal.util.DaemonThreadFactory;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The nodes registered through one store instance, and the database session on which they hold
 * their node locks: the signal that tells other nodes they are alive. The database server releases
 * a session's locks the moment the session ends, and a session ends when its process dies (the
 * operating system closes the socket), so a held lock says "alive" without any clock.
 *
 * <p>One connection per store instance, taken from the store's {@code DataSource} when the first
 * node registers and given back when the last one deregisters; it runs in auto-commit, so it never
 * holds a transaction open. Each node gets a random key, stored in its registry row, so that a
 * restarted node with the same id never waits for its former self's session. A keeper thread checks
 * the session every {@link #CHECK_MILLIS} ms, on its own so that a dispatcher backing off from a
 * failing store does not delay it: if the connection broke while the process lives (a network cut,
 * a server restart), it opens a new one and takes the same keys again, and other nodes wait a grace
 * period ({@link NodeRegistry#GRACE_NANOS}) before they call a node with a free lock dead.
 *
 * <p>On a store without session locks ({@link Dialect#hasSessionLocks}, or turned off with {@code
 * JdbcJobStore.Builder.sessionLiveness(false)}) it only remembers which nodes registered here, with
 * key 0, and starts no thread.
 *
 * <p>Ownership: {@link #keys} is a concurrent map that anyone reads without a lock, so that a
 * statement holding a pooled connection never waits for this object's monitor. It is written, and
 * the connection, the thread and {@link #unsaved} are used, only under the monitor; the keeper
 * thread takes the monitor for each check.
 */
final class LivenessSession {
  private static final Logger LOG = LoggerFactory.getLogger(LivenessSession.class);
  private static final int KEY_TRIES = 10;
  static final long CHECK_MILLIS = 250;

  private final DataSource dataSource;
  private final Dialect dialect;
  private final String prefix;
  private final boolean locks;

  /** Where keys that changed are written, for the keeper thread; set once, before any node. */
  private volatile Consumer<Map<String, Integer>> keySaver = moved -> {};

  /** Node id to lock key (0 without locks), for the nodes registered through this store. */
  private final Map<String, Integer> keys = new ConcurrentHashMap<>();

  /** Keys taken under a new number whose registry rows are not updated yet. Guarded by this. */
  private final Map<String, Integer> unsaved = new HashMap<>();

  /**
   * The session holding every lock in {@link #keys}, or null when none is open. Guarded by this.
   */
  private Connection connection;

  /** Whether the session holds every lock in {@link #keys}. Written under this. */
  private volatile boolean healthy = true;

  /** The keeper thread, while nodes are registered. Guarded by this. */
  private Thread keeper;

  LivenessSession(DataSource dataSource, Dialect dialect, String prefix, boolean locks) {
    this.dataSource = dataSource;
    this.dialect = dialect;
    this.prefix = prefix;
    this.locks = locks;
  }

  /** Sets where the keeper thread writes the keys it had to change. */
  void onKeysMoved(Consumer<Map<String, Integer>> saver) {
    this.keySaver = saver;
  }

  /** Whether nodes hold session locks on this store. */
  boolean hasLocks() {
    return locks;
  }

  /**
   * Whether this process's session holds every lock of its nodes: when it does not (its connection
   * broke), it does not judge other nodes either, since their sessions may have ended with its own.
   */
  boolean isHealthy() {
    return healthy;
  }

  /** Whether {@code nodeId} registered through this store and did not deregister. */
  boolean isLocal(String nodeId) {
    return keys.containsKey(nodeId);
  }

  /** Returns the lock key of a node registered here. */
  Optional<Integer> keyOf(String nodeId) {
    return Optional.ofNullable(keys.get(nodeId));
  }

  /**
   * Takes a lock under a fresh key for {@code nodeId} and returns the key (0 without locks).
   *
   * @throws IllegalStateException if the node is already registered here
   * @throws SQLException if no connection can be had or no free key was found
   */
  synchronized int take(String nodeId) throws SQLException {
    if (keys.containsKey(nodeId)) {
      throw new IllegalStateException(
          "node id '" + nodeId + "' is in use by a live service on this store");
    }
    if (!locks) {
      keys.put(nodeId, 0);
      return 0;
    }
    boolean opened = connection == null;
    Connection c = connection();
    try {
      int key = freeKey(c);
      keys.put(nodeId, key);
      startKeeper();
      return key;
    } catch (SQLException | RuntimeException e) {
      if (opened && keys.isEmpty()) {
        discardConnection();
      }
      throw e;
    }
  }

  /**
   * Releases the lock of {@code nodeId} and forgets it; gives the connection back and stops the
   * keeper when no node is left. Failures are logged: the session is then discarded, and its locks
   * go with it.
   */
  synchronized void release(String nodeId) {
    Integer key = keys.remove(nodeId);
    unsaved.remove(nodeId);
    if (key == null || !locks || connection == null) {
      return;
    }
    try {
      dialect.releaseNodeLock(connection, prefix, key);
    } catch (SQLException e) {
      LOG.debug("could not release the node lock of {}: {}", nodeId, e.toString());
      discardConnection();
    }
    if (keys.isEmpty()) {
      if (connection != null) {
        closeConnection();
      }
      if (keeper != null) {
        keeper.interrupt();
        keeper = null;
      }
    }
  }

  /**
   * Checks the session; if it broke, opens a new one and takes every node's lock again, under the
   * same key when it is free and a new one otherwise. Returns the keys that changed and are not
   * saved yet ({@link #saved} confirms them).
   *
   * @throws SQLException if the database cannot be reached
   */
  synchronized Map<String, Integer> verify() throws SQLException {
    if (!locks || keys.isEmpty()) {
      healthy = true;
      return Map.of();
    }
    if (connection != null && connection.isValid(2)) {
      healthy = true;
      return Map.copyOf(unsaved);
    }
    healthy = false;
    if (connection != null) {
      LOG.warn(
          "lost the connection that holds the node locks of {}; taking them again", keys.keySet());
      discardConnection();
    }
    Connection c = connection();
    try {
      for (Map.Entry<String, Integer> entry : keys.entrySet()) {
        if (!dialect.tryNodeLock(c, prefix, entry.getValue())) {
          int key = freeKey(c);
          entry.setValue(key);
          unsaved.put(entry.getKey(), key);
        }
      }
    } catch (SQLException | RuntimeException e) {
      discardConnection(); // not every lock is held: the next check starts again
      throw e;
    }
    healthy = true;
    LOG.warn("took the node locks of {} again", keys.keySet());
    return Map.copyOf(unsaved);
  }

  /** Confirms that the registry rows now hold these keys. */
  synchronized void saved(Map<String, Integer> moved) {
    moved.forEach((id, key) -> unsaved.remove(id, key));
  }

  private int freeKey(Connection c) throws SQLException {
    for (int i = 0; i < KEY_TRIES; i++) {
      int key = ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE);
      if (!keys.containsValue(key) && dialect.tryNodeLock(c, prefix, key)) {
        return key;
      }
    }
    throw new SQLException("found no free node lock key in " + KEY_TRIES + " tries");
  }

  private void startKeeper() {
    if (keeper == null) {
      keeper = new DaemonThreadFactory("batchkit-liveness-" + prefix).newThread(this::keep);
      keeper.start();
    }
  }

  /** The keeper thread: checks the session until no node is left. */
  private void keep() {
    boolean failing = false;
    while (!Thread.currentThread().isInterrupted()) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(CHECK_MILLIS));
      synchronized (this) {
        if (keeper != Thread.currentThread()) {
          return;
        }
      }
      try {
        Map<String, Integer> moved = verify();
        if (!moved.isEmpty()) {
          keySaver.accept(moved);
          saved(moved);
        }
        failing = false;
      } catch (SQLException | RuntimeException e) {
        if (!failing) {
          failing = true;
          LOG.warn("cannot check the node locks of {} ({}); trying again", prefix, e.toString());
        }
      }
    }
  }

  private Connection connection() throws SQLException {
    if (connection == null) {
      Connection c = dataSource.getConnection();
      try {
        c.setAutoCommit(true);
      } catch (SQLException e) {
        c.close();
        throw e;
      }
      connection = c;
    }
    return connection;
  }

  /** Gives the connection back to its pool; it holds no lock by then. */
  private void closeConnection() {
    try {
      connection.close();
    } catch (SQLException e) {
      LOG.debug("closing the node lock connection failed: {}", e.toString());
    }
    connection = null;
  }

  /**
   * Ends a session that may still hold locks: releases them all, and if that fails aborts the
   * connection, so that no pooled connection goes back to its pool holding a node's lock.
   */
  private void discardConnection() {
    if (connection == null) {
      return;
    }
    try {
      dialect.releaseAllNodeLocks(connection);
      closeConnection();
    } catch (SQLException | RuntimeException e) {
      try {
        connection.abort(Runnable::run);
      } catch (SQLException | RuntimeException abortFailed) {
        LOG.debug("aborting the node lock connection failed: {}", abortFailed.toString());
      }
      connection = null;
    }
  }
}
