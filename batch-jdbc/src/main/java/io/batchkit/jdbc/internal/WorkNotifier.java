package io.batchkit.jdbc.internal;

import io.batchkit.jdbc.SqlDialect;
import io.batchkit.spi.Subscription;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.List;
import java.util.Locale;

/**
 * Tells subscribers that a store step created claimable work: on PostgreSQL through {@code
 * NOTIFY}/{@code LISTEN} (see {@link PgListener}), so every node hears it; elsewhere only the
 * subscribers of this store instance, once the step's transaction committed. Exists so that the
 * steps that create work only say so ({@link #notifyWork}), and the changing transactions are run
 * through {@link #write}, which delivers the local announcement after the commit.
 */
final class WorkNotifier {
  // named after the store, as before the split, so that logging configurations keep matching
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SqlJobStore.class);

  private final Dialect dialect;
  private final Transactions tx;
  private final String notifyChannel;

  /** Null unless the dialect has notifications (PostgreSQL). */
  private final PgListener listener;

  /** This store's own subscribers, told about work created through this store instance. */
  private final List<Runnable> localSubscribers = new java.util.concurrent.CopyOnWriteArrayList<>();

  WorkNotifier(javax.sql.DataSource dataSource, Dialect dialect, Transactions tx, String prefix) {
    this.dialect = dialect;
    this.tx = tx;
    // LISTEN takes the channel unquoted, which PostgreSQL folds to lower case, while pg_notify
    // takes it as given: a prefix with capitals would send where nobody listens
    this.notifyChannel = (prefix + "work").toLowerCase(Locale.ROOT);
    this.listener =
        dialect.kind() == SqlDialect.POSTGRESQL ? new PgListener(dataSource, notifyChannel) : null;
  }

  /** The PostgreSQL channel on which the store announces new claimable work. */
  String notifyChannel() {
    return notifyChannel;
  }

  Subscription subscribe(Runnable onWork) {
    // a second close must not remove another subscription of the same callback
    java.util.concurrent.atomic.AtomicBoolean open =
        new java.util.concurrent.atomic.AtomicBoolean(true);
    if (listener != null) {
      listener.add(onWork);
      return () -> {
        if (open.compareAndSet(true, false)) {
          listener.remove(onWork);
        }
      };
    }
    localSubscribers.add(onWork);
    return () -> {
      if (open.compareAndSet(true, false)) {
        localSubscribers.remove(onWork);
      }
    };
  }

  /**
   * Announces claimable work: on PostgreSQL a {@code NOTIFY}, delivered to every listening node at
   * commit; elsewhere the subscribers of this store instance are told once {@link #write}
   * committed.
   */
  void notifyWork(Connection c) throws SQLException {
    if (dialect.kind() != SqlDialect.POSTGRESQL) {
      announceAfterCommit.set(Boolean.TRUE);
      return;
    }
    try (PreparedStatement ps = c.prepareStatement("SELECT pg_notify(?, '')")) {
      ps.setString(1, notifyChannel);
      ps.execute();
    }
  }

  /** Set by {@link #notifyWork} inside a transaction; read by {@link #write} after it commits. */
  private final ThreadLocal<Boolean> announceAfterCommit = ThreadLocal.withInitial(() -> false);

  /** Runs a changing transaction, then tells local subscribers if it created claimable work. */
  <T> T write(String operation, Transactions.Work<T> work) {
    announceAfterCommit.set(Boolean.FALSE);
    T result = tx.run(operation, work);
    if (announceAfterCommit.get()) {
      announceAfterCommit.set(Boolean.FALSE);
      for (Runnable subscriber : localSubscribers) {
        try {
          subscriber.run();
        } catch (RuntimeException e) {
          LOG.warn("a JobStore subscriber threw; ignored", e);
        }
      }
    }
    return result;
  }
}
