package io.batchkit.jdbc.internal;

import io.batchkit.jdbc.SqlDialect;
import io.batchkit.spi.JobStoreException;
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.SQLTransientConnectionException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs a unit of work in one transaction: the connection is always returned, any failure rolls back
 * (a failed rollback is attached as suppressed), and a deadlock or serialization failure reruns the
 * whole unit a few times before it is reported. A unit may end by committing itself ({@link
 * #commitWithoutFlush}, the PostgreSQL job steps); nothing may follow that call in the unit, as
 * whatever did would run outside its transaction. SQL failures become {@link JobStoreException}s
 * that say whether a retry may help; the store's own logic exceptions pass through unchanged. After
 * each rollback it runs the store's hook: the fetch hints are void then, as a fetch in the unit may
 * have left a hint past jobs the rollback gave back ({@link FetchHints}).
 */
final class Transactions {
  private static final Logger LOG = LoggerFactory.getLogger(Transactions.class);
  private static final int MAX_CONFLICT_RETRIES = 5;

  @FunctionalInterface
  interface Work<T> {
    T run(Connection connection) throws SQLException;
  }

  private final DataSource dataSource;
  private final Dialect dialect;

  /** Run after every rollback of a unit, whether or not the rollback itself succeeded. */
  private final Runnable afterRollback;

  Transactions(DataSource dataSource, Dialect dialect, Runnable afterRollback) {
    this.dataSource = dataSource;
    this.dialect = dialect;
    this.afterRollback = afterRollback;
  }

  <T> T run(String operation, Work<T> work) {
    for (int attempt = 1; ; attempt++) {
      try {
        return once(work);
      } catch (SQLException e) {
        if (dialect.isConflict(e) && attempt < MAX_CONFLICT_RETRIES) {
          LOG.debug("{} hit a conflict ({}); running it again", operation, e.getMessage());
          continue;
        }
        throw new JobStoreException(operation, dialect.isTransient(e), describe(e), e);
      }
    }
  }

  /**
   * Commits the open transaction on PostgreSQL without waiting for the write-ahead log to reach
   * disk: {@code synchronous_commit} off for this transaction and the commit, sent together in one
   * round trip. For the last step of a unit that {@link #run} runs: the commit {@code run} makes
   * after the unit then finds no transaction open, and pgjdbc sends nothing (another driver may
   * send a {@code COMMIT}, which the server answers with a warning). Sending the setting with the
   * commit, rather than in a round trip of its own before it, spares the unit a round trip, and the
   * rows its statements locked (a batch row that other nodes' outcomes queue for) are held across
   * one client round trip fewer.
   */
  static void commitWithoutFlush(Connection c) throws SQLException {
    // JobStepCommitIT and FetchHintsIT (its failing commits) know this text
    try (PreparedStatement ps = c.prepareStatement("SET LOCAL synchronous_commit TO OFF; COMMIT")) {
      ps.execute();
    }
  }

  /** Runs {@code work} outside a transaction (auto-commit), for single-statement reads. */
  <T> T read(String operation, Work<T> work) {
    try (Connection connection = dataSource.getConnection()) {
      return work.run(connection);
    } catch (SQLException e) {
      throw new JobStoreException(operation, dialect.isTransient(e), describe(e), e);
    }
  }

  /**
   * Describes a failure without the driver's message, which may quote the statement with its bound
   * values or the failing row, i.e. payloads and results (PostgreSQL's batch updates do so even
   * when the connection was cut): those stay in the cause, for DEBUG logs. Names the SQLState's
   * class instead.
   */
  static String describe(SQLException e) {
    SQLException first = e;
    if ((e.getSQLState() == null || e instanceof BatchUpdateException)
        && e.getNextException() != null) {
      first = e.getNextException(); // a batch update reports the statement's failure as the next
    }
    String state = first.getSQLState();
    return "SQL failed ("
        + e.getClass().getSimpleName()
        + ", SQLState "
        + state
        + ", vendor code "
        + first.getErrorCode()
        + ")"
        + kindOf(first, state);
  }

  private static String kindOf(SQLException e, String state) {
    if (state == null) {
      return e instanceof SQLTransientConnectionException
          ? ": no connection available (the pool timed out)"
          : "";
    }
    if (state.startsWith("08")) {
      return ": connection failure";
    }
    if (state.startsWith("57")) {
      return ": operator intervention (e.g. the server ended the connection or is shutting down)";
    }
    if (state.startsWith("40")) {
      return ": transaction rolled back (conflict or deadlock)";
    }
    if (state.startsWith("53")) {
      return ": insufficient resources on the server";
    }
    if (state.startsWith("23")) {
      return ": integrity constraint violation";
    }
    if (state.equals("HYT00")) {
      return ": timeout";
    }
    return "";
  }

  private <T> T once(Work<T> work) throws SQLException {
    try (Connection connection = dataSource.getConnection()) {
      boolean autoCommit = connection.getAutoCommit();
      if (autoCommit) {
        connection.setAutoCommit(false);
      }
      try {
        if (dialect.kind() == SqlDialect.MYSQL) {
          // InnoDB defaults to REPEATABLE READ, whose gap locks the store does not need; PostgreSQL
          // and H2 default to READ COMMITTED, and asking them costs a round trip per transaction
          connection.setTransactionIsolation(Connection.TRANSACTION_READ_COMMITTED);
        }
        T result = work.run(connection);
        connection.commit(); // nothing left to commit if the unit ended with commitWithoutFlush
        return result;
      } catch (SQLException | RuntimeException | Error e) {
        try {
          connection.rollback();
        } catch (SQLException rollbackFailure) {
          e.addSuppressed(rollbackFailure);
        } finally {
          afterRollback.run();
        }
        throw e;
      } finally {
        if (autoCommit) {
          try {
            connection.setAutoCommit(true);
          } catch (SQLException ignored) {
            // the connection is being returned anyway; a pool will reset or discard it
          }
        }
      }
    }
  }
}
