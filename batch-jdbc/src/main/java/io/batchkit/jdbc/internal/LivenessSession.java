package io.batchkit.jdbc.internal;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
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
 * restarted node with the same id never waits for its former self's session. If the connection
 * breaks while the process lives (a network cut, a server restart), {@link #verify} opens a new one
 * and takes the same keys again; other nodes wait a grace period before they call a node with a
 * free lock dead ({@link NodeRegistry}), so a short break costs nothing.
 *
 * <p>On a store without session locks ({@link Dialect#hasSessionLocks}, or turned off with {@code
 * JdbcJobStore.Builder.sessionLiveness(false)}) it only remembers which nodes registered here.
 *
 * <p>Ownership: every field is guarded by this object's monitor; the lock statements run under it,
 * on the one connection, which no other code touches.
 */
final class LivenessSession {
  private static final Logger LOG = LoggerFactory.getLogger(LivenessSession.class);
  private static final int KEY_TRIES = 10;

  private final DataSource dataSource;
  private final Dialect dialect;
  private final String prefix;
  private final boolean locks;

  /** Node id to lock key (0 without locks), for the nodes registered through this store. */
  private final Map<String, Integer> keys = new HashMap<>();

  /** The session holding every lock in {@link #keys}, or null when none is open. */
  private Connection connection;

  LivenessSession(DataSource dataSource, Dialect dialect, String prefix, boolean locks) {
    this.dataSource = dataSource;
    this.dialect = dialect;
    this.prefix = prefix;
    this.locks = locks;
  }

  /** Whether nodes hold session locks on this store. */
  boolean hasLocks() {
    return locks;
  }

  /** Whether {@code nodeId} registered through this store and did not deregister. */
  synchronized boolean isLocal(String nodeId) {
    return keys.containsKey(nodeId);
  }

  /** Returns the lock key of a node registered here. */
  synchronized Optional<Integer> keyOf(String nodeId) {
    return Optional.ofNullable(keys.get(nodeId));
  }

  /**
   * Takes a lock under a fresh key for {@code nodeId} and returns the key (0 without locks).
   *
   * @throws SQLException if no connection can be had or no free key was found
   */
  synchronized int take(String nodeId) throws SQLException {
    if (!locks) {
      keys.put(nodeId, 0);
      return 0;
    }
    Connection c = connection();
    for (int i = 0; i < KEY_TRIES; i++) {
      int key = ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE);
      if (!keys.containsValue(key) && dialect.tryNodeLock(c, prefix, key)) {
        keys.put(nodeId, key);
        return key;
      }
    }
    throw new SQLException("found no free node lock key in " + KEY_TRIES + " tries");
  }

  /**
   * Releases the lock of {@code nodeId} and forgets it; gives the connection back when no node is
   * left. Failures are logged: a lock that could not be released goes with its session.
   */
  synchronized void release(String nodeId) {
    Integer key = keys.remove(nodeId);
    if (key == null || !locks || connection == null) {
      return;
    }
    try {
      dialect.releaseNodeLock(connection, prefix, key);
    } catch (SQLException e) {
      LOG.debug("could not release the node lock of {}: {}", nodeId, e.toString());
    }
    if (keys.isEmpty()) {
      closeConnection();
    }
  }

  /**
   * Checks the session; if it broke, opens a new one and takes every node's lock again. Returns the
   * nodes whose lock could not be taken under its old key and got a new one (their registry rows
   * must be updated).
   *
   * @throws SQLException if the database cannot be reached
   */
  synchronized Map<String, Integer> verify() throws SQLException {
    if (!locks || keys.isEmpty()) {
      return Map.of();
    }
    if (connection != null && connection.isValid(2)) {
      return Map.of();
    }
    if (connection != null) {
      LOG.warn(
          "lost the connection that holds the node locks of {}; taking them again", keys.keySet());
      closeConnection();
    }
    Connection c = connection();
    Map<String, Integer> moved = new HashMap<>();
    try {
      for (Map.Entry<String, Integer> entry : keys.entrySet()) {
        if (!dialect.tryNodeLock(c, prefix, entry.getValue())) {
          int key = ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE);
          for (int i = 0; i < KEY_TRIES && !dialect.tryNodeLock(c, prefix, key); i++) {
            key = ThreadLocalRandom.current().nextInt(1, Integer.MAX_VALUE);
          }
          entry.setValue(key);
          moved.put(entry.getKey(), key);
        }
      }
    } catch (SQLException | RuntimeException e) {
      closeConnection(); // not every lock is held: the next call starts again
      throw e;
    }
    return moved;
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

  private void closeConnection() {
    try {
      connection.close();
    } catch (SQLException e) {
      LOG.debug("closing the node lock connection failed: {}", e.toString());
    }
    connection = null;
  }
}
