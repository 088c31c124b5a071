package io.batchkit.jdbc.internal;

import io.batchkit.BatchId;
import io.batchkit.jdbc.SqlDialect;
import io.batchkit.spi.Subscription;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Tells subscribers what a store step changed that other services wait for: claimable work ({@link
 * #notifyWork}) and finished batches ({@link #notifyFinished}). On PostgreSQL through {@code
 * NOTIFY}/{@code LISTEN} (see {@link PgListener}), so every node hears it; elsewhere only the
 * subscribers of this store instance, once the step's transaction committed. Exists so that the
 * steps only say what they did, and the changing transactions are run through {@link #write}, which
 * delivers the local announcements after the commit.
 *
 * <p>Because it sees what a transaction announced, it also decides how a transaction of claims and
 * outcomes commits ({@link #writeJobStep}): one that finished a batch waits for the log flush; and
 * once one that announced work committed, it voids the fetch hints ({@link FetchHints}); {@link
 * Transactions} voids them after a rollback.
 *
 * <p>A {@code NOTIFY} makes PostgreSQL take a global lock at commit, so only rare steps send one:
 * those that create work (a batch started, jobs queued again) and the one step that finishes a
 * batch; never one per claimed or finished job.
 */
final class WorkNotifier {
  // named after the store, as before the split, so that logging configurations keep matching
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(SqlJobStore.class);

  private final Dialect dialect;
  private final Transactions tx;
  private final String workChannel;
  private final String finishedChannel;

  /** Null unless the dialect has notifications (PostgreSQL). */
  private final PgListener listener;

  /** This store's own subscribers, told about work created through this store instance. */
  private final List<Runnable> localWork = new CopyOnWriteArrayList<>();

  /** This store's own subscribers, told about batches finished through this store instance. */
  private final List<Consumer<BatchId>> localFinished = new CopyOnWriteArrayList<>();

  /** What the running transaction announces, set by the steps, delivered by {@link #write}. */
  private final ThreadLocal<Pending> pending = ThreadLocal.withInitial(Pending::new);

  /** The local announcements one transaction collected. */
  private static final class Pending {
    boolean work;
    boolean finishedAny;
    final List<UUID> finished = new ArrayList<>();

    void clear() {
      work = false;
      finishedAny = false;
      finished.clear();
    }
  }

  /** Voided whenever work is announced, here or by other nodes: jobs may have come back. */
  private final FetchHints hints;

  WorkNotifier(
      javax.sql.DataSource dataSource,
      Dialect dialect,
      Transactions tx,
      String prefix,
      FetchHints hints) {
    this.dialect = dialect;
    this.tx = tx;
    this.hints = hints;
    // LISTEN takes the channel unquoted, which PostgreSQL folds to lower case, while pg_notify
    // takes it as given: a prefix with capitals would send where nobody listens
    this.workChannel = (prefix + "work").toLowerCase(Locale.ROOT);
    this.finishedChannel = (prefix + "finished").toLowerCase(Locale.ROOT);
    this.listener =
        dialect.kind() == SqlDialect.POSTGRESQL
            ? new PgListener(dataSource, workChannel, finishedChannel, hints::invalidate)
            : null;
  }

  /** The PostgreSQL channel on which the store announces new claimable work. */
  String notifyChannel() {
    return workChannel;
  }

  Subscription subscribe(Runnable onWork) {
    if (listener != null) {
      listener.addWork(onWork);
      return once(() -> listener.removeWork(onWork));
    }
    localWork.add(onWork);
    return once(() -> localWork.remove(onWork));
  }

  Subscription subscribeFinished(Consumer<BatchId> onFinished) {
    if (listener != null) {
      listener.addFinished(onFinished);
      return once(() -> listener.removeFinished(onFinished));
    }
    localFinished.add(onFinished);
    return once(() -> localFinished.remove(onFinished));
  }

  /** A subscription whose second close does nothing, not even remove another one. */
  private static Subscription once(Runnable remove) {
    AtomicBoolean open = new AtomicBoolean(true);
    return () -> {
      if (open.compareAndSet(true, false)) {
        remove.run();
      }
    };
  }

  /**
   * Announces claimable work: on PostgreSQL a {@code NOTIFY}, delivered to every listening node at
   * commit; elsewhere the subscribers of this store instance are told once {@link #write}
   * committed.
   */
  void notifyWork(Connection c) throws SQLException {
    pending.get().work = true; // for the local subscribers and the fetch hints, after the commit
    if (listener != null) {
      notify(c, workChannel, "");
    }
  }

  /**
   * Announces that the running transaction finished a batch, the same way as {@link #notifyWork}:
   * the notification carries the batch's id, nothing else.
   */
  void notifyFinished(Connection c, UUID batchId) throws SQLException {
    pending.get().finishedAny = true;
    if (listener == null) {
      pending.get().finished.add(batchId);
      return;
    }
    notify(c, finishedChannel, batchId.toString());
  }

  private void notify(Connection c, String channel, String payload) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT pg_notify(?, ?)")) {
      ps.setString(1, channel);
      ps.setString(2, payload);
      ps.execute();
    }
  }

  /** Runs a changing transaction, then tells local subscribers what it announced. */
  <T> T write(String operation, Transactions.Work<T> work) {
    return write(operation, work, false);
  }

  /**
   * Runs a transaction of claims and job outcomes like {@link #write}; with {@code relaxCommit},
   * unless it finished a batch, it commits without waiting for the write-ahead log to reach disk
   * (PostgreSQL's {@code synchronous_commit} off, for this transaction only, sent with the commit:
   * {@link Transactions#commitWithoutFlush}). See {@link
   * io.batchkit.jdbc.JdbcJobStore.Builder#asynchronousJobCommits} for why that is safe.
   */
  <T> T writeJobStep(String operation, Transactions.Work<T> work, boolean relaxCommit) {
    return write(operation, work, relaxCommit && dialect.kind() == SqlDialect.POSTGRESQL);
  }

  private <T> T write(String operation, Transactions.Work<T> work, boolean relaxCommit) {
    Pending announced = pending.get();
    T result;
    try {
      result =
          tx.run(
              operation,
              c -> {
                announced.clear(); // an attempt rerun after a conflict starts afresh
                T done = work.run(c);
                if (relaxCommit && !announced.finishedAny) {
                  Transactions.commitWithoutFlush(c); // the last step: the unit's commit is done
                }
                return done;
              });
    } catch (RuntimeException | Error e) {
      announced.clear(); // rolled back: nothing happened
      throw e;
    }
    boolean newWork = announced.work;
    List<UUID> finished = List.copyOf(announced.finished);
    announced.clear();
    if (newWork) {
      // after the commit: a fetch that reads the epoch after this sees the jobs queued again, and
      // one that read it before leaves a hint that is void
      hints.invalidate();
      for (Runnable subscriber : localWork) {
        try {
          subscriber.run();
        } catch (RuntimeException e) {
          LOG.warn("a JobStore subscriber threw; ignored", e);
        }
      }
    }
    for (UUID id : finished) {
      for (Consumer<BatchId> subscriber : localFinished) {
        try {
          subscriber.accept(new BatchId(id));
        } catch (RuntimeException e) {
          LOG.warn("a JobStore finish subscriber threw; ignored", e);
        }
      }
    }
    return result;
  }
}
