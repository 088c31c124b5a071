package io.batchkit.jdbc.internal;

import io.batchkit.BatchId;
import io.batchkit.internal.util.DaemonThreadFactory;
import java.lang.reflect.Method;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens on the store's two PostgreSQL channels with {@code LISTEN} on a connection of its own and
 * runs the subscribers when a notification arrives: on the work channel, so that nodes wake at once
 * when another node creates work; on the finished channel, whose notifications carry a batch id, so
 * that a node waiting for a batch hears at once that another node finished it. One daemon thread
 * per store, started with the first subscriber and stopped with the last; a subscription returns
 * once the listener listens, so that what commits after it is heard. The PostgreSQL driver is the
 * user's dependency, not ours, so its {@code PGConnection} and {@code PGNotification} are reached
 * by reflection. A failure is logged once and listening starts again with a backoff; meanwhile the
 * services fall back on polling. A connection whose session was lost is aborted rather than given
 * back to the pool as sound ({@link #giveUp}).
 */
final class PgListener {
  private static final Logger LOG = LoggerFactory.getLogger(PgListener.class);
  private static final int WAIT_MILLIS = 500;

  /** The longest a new subscription waits for the listener to listen. */
  private static final Duration START_WAIT = Duration.ofSeconds(1);

  private final DataSource dataSource;
  private final String workChannel;
  private final String finishedChannel;

  /**
   * Told of every delivery that announces work before any subscriber runs, and whenever the
   * listener starts listening (notices sent while it did not were lost): the store's fetch hints.
   */
  private final Runnable onAnyWork;

  private final List<Runnable> workSubscribers = new CopyOnWriteArrayList<>();
  private final List<Consumer<BatchId>> finishedSubscribers = new CopyOnWriteArrayList<>();

  /** Guarded by this. */
  private Thread thread;

  /**
   * Counted down once the current listener thread first listens, or stops; a new one with each
   * thread. Guarded by this.
   */
  private CountDownLatch listening = new CountDownLatch(0);

  /** Written under this, read by the listening thread. */
  private volatile boolean running;

  /**
   * @param onAnyWork run first whenever work is announced, and when the listener starts listening,
   *     for the store itself: it does not keep the listener running, as the subscribers do; it must
   *     not throw (the listener would take it for a lost connection)
   */
  PgListener(
      DataSource dataSource, String workChannel, String finishedChannel, Runnable onAnyWork) {
    this.dataSource = dataSource;
    this.workChannel = workChannel;
    this.finishedChannel = finishedChannel;
    this.onAnyWork = onAnyWork;
  }

  /** Adds a work subscriber; returns once the listener listens, or after {@link #START_WAIT}. */
  void addWork(Runnable subscriber) {
    CountDownLatch started;
    synchronized (this) {
      workSubscribers.add(subscriber);
      started = startIfNeeded();
    }
    awaitListening(started);
  }

  /** Adds a finish subscriber; returns once the listener listens, or after {@link #START_WAIT}. */
  void addFinished(Consumer<BatchId> subscriber) {
    CountDownLatch started;
    synchronized (this) {
      finishedSubscribers.add(subscriber);
      started = startIfNeeded();
    }
    awaitListening(started);
  }

  /**
   * Waits until the listener thread that {@code started} belongs to listens (or stops), for at most
   * {@link #START_WAIT}: a step that commits after a subscription returned is then heard, such as a
   * batch this store finishes at once. A database that does not answer costs the subscriber that
   * wait; the listener goes on trying, and the services poll meanwhile.
   */
  private static void awaitListening(CountDownLatch started) {
    try {
      started.await(START_WAIT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  void removeWork(Runnable subscriber) {
    synchronized (this) {
      workSubscribers.remove(subscriber);
    }
    stopIfUnused();
  }

  void removeFinished(Consumer<BatchId> subscriber) {
    synchronized (this) {
      finishedSubscribers.remove(subscriber);
    }
    stopIfUnused();
  }

  /** Starts the listener thread if none runs; returns the latch its first LISTENs count down. */
  private CountDownLatch startIfNeeded() {
    if (thread == null) {
      running = true;
      CountDownLatch started = new CountDownLatch(1);
      listening = started;
      thread =
          new DaemonThreadFactory("batchkit-pg-listen-" + workChannel)
              .newThread(() -> listen(started));
      thread.start();
    }
    return listening;
  }

  private void stopIfUnused() {
    Thread stopping;
    synchronized (this) {
      if (!workSubscribers.isEmpty() || !finishedSubscribers.isEmpty() || thread == null) {
        return;
      }
      running = false;
      stopping = thread;
      thread = null;
      listening.countDown(); // nobody waits for a listener that stops
    }
    stopping.interrupt();
    try {
      stopping.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** The listener thread's life; counts {@code started} down once it first listens, or ends. */
  private void listen(CountDownLatch started) {
    try {
      listenUntilStopped(started);
    } finally {
      started.countDown();
    }
  }

  private void listenUntilStopped(CountDownLatch started) {
    long backoffMillis = 100;
    boolean failing = false;
    while (running) {
      try (Connection connection = dataSource.getConnection()) {
        try {
          connection.setAutoCommit(true);
          try (Statement statement = connection.createStatement()) {
            // the channels are the store's validated table prefix plus a word: identifiers, not
            // input; the work channel last, so that a session whose last statement listens on it
            // listens on both
            statement.execute("LISTEN " + finishedChannel);
            statement.execute("LISTEN " + workChannel);
          }
          onAnyWork.run(); // whatever was announced while nobody listened
          started.countDown();
          Object pg = connection.unwrap(Class.forName("org.postgresql.PGConnection"));
          Method poll = pg.getClass().getMethod("getNotifications", int.class);
          poll.setAccessible(true);
          if (failing) {
            LOG.warn("listening for work on PostgreSQL channel {} again", workChannel);
            failing = false;
          }
          backoffMillis = 100;
          deliverUntilStopped(connection, pg, poll);
        } catch (SQLException | ReflectiveOperationException | RuntimeException e) {
          if (running) {
            giveUp(connection);
          }
          throw e;
        }
      } catch (SQLException | ReflectiveOperationException | RuntimeException e) {
        if (!running) {
          return;
        }
        if (!failing) {
          Throwable cause =
              e instanceof java.lang.reflect.InvocationTargetException && e.getCause() != null
                  ? e.getCause()
                  : e;
          LOG.warn(
              "cannot listen on PostgreSQL channel {} ({}); services poll until it listens again",
              workChannel,
              cause.toString());
          failing = true;
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoffMillis));
        backoffMillis = Math.min(backoffMillis * 2, 10_000);
      }
    }
  }

  /**
   * Delivers what arrives on the listening {@code connection} ({@code poll} is its driver's {@code
   * getNotifications} on {@code pg}) until the listener stops; then ends its LISTENs, or aborts it
   * if it cannot, as it goes back to the pool. A failure while the listener runs is thrown, and the
   * caller readies the connection ({@link #giveUp}).
   */
  private void deliverUntilStopped(Connection connection, Object pg, Method poll)
      throws ReflectiveOperationException {
    try {
      while (running) {
        Object[] notifications = (Object[]) poll.invoke(pg, WAIT_MILLIS);
        if (notifications != null && notifications.length > 0) {
          deliver(notifications);
        }
      }
    } finally {
      if (!running && !unlisten(connection)) {
        abort(connection);
      }
    }
  }

  /**
   * Readies a connection whose listening failed to go back to the pool: a sound one (the failure
   * was a refused {@code LISTEN}, say) without its LISTENs; a dead one, or one whose LISTENs could
   * not be ended, aborted. A lost session fails in the driver's own {@code getNotifications}, out
   * of the pool's sight, so the pool would take the connection back as sound and lend it again,
   * unchecked within its validation window (HikariCP: half a second), to the next borrower, most
   * likely this thread; aborted, it is closed, and the pool drops it (HikariCP logs that it was
   * broken).
   */
  private static void giveUp(Connection connection) {
    boolean sound;
    try {
      sound = connection.isValid(1); // bounded, where a statement on a hung network is not
    } catch (SQLException | RuntimeException e) {
      sound = false;
    }
    if (!sound || !unlisten(connection)) {
      abort(connection);
    }
  }

  /** Closes a connection that must not go back to the pool as it is; a failure is only logged. */
  private static void abort(Connection connection) {
    try {
      connection.abort(Runnable::run);
    } catch (SQLException | RuntimeException e) {
      LOG.debug("could not abort a LISTEN connection", e);
    }
  }

  /**
   * Ends the LISTENs of a connection that goes back to the pool, so that whoever borrows it next
   * does not go on collecting the channels' notices; returns false, after logging, if it could not
   * (the caller then aborts the connection).
   */
  private static boolean unlisten(Connection connection) {
    try (Statement statement = connection.createStatement()) {
      statement.execute("UNLISTEN *");
      return true;
    } catch (SQLException | RuntimeException e) {
      LOG.debug("could not end the LISTENs of a connection given back to the pool", e);
      return false;
    }
  }

  /**
   * Runs {@link #onAnyWork} first if any notification announces work, then tells the finish
   * subscribers of each finished batch, then runs the work subscribers once for any number of work
   * notifications.
   */
  private void deliver(Object[] notifications) throws ReflectiveOperationException {
    boolean work = false;
    List<BatchId> finished = new ArrayList<>();
    Class<?> type = Class.forName("org.postgresql.PGNotification");
    for (Object notification : notifications) {
      String channel = (String) type.getMethod("getName").invoke(notification);
      if (finishedChannel.equals(channel)) {
        String payload = (String) type.getMethod("getParameter").invoke(notification);
        try {
          finished.add(new BatchId(UUID.fromString(payload)));
        } catch (IllegalArgumentException e) {
          LOG.debug("ignored a notification on {} that is not a batch id", channel);
        }
      } else {
        work = true;
      }
    }
    if (work) {
      onAnyWork.run();
    }
    for (BatchId id : finished) {
      for (Consumer<BatchId> subscriber : finishedSubscribers) {
        try {
          subscriber.accept(id);
        } catch (RuntimeException e) {
          LOG.warn("a JobStore finish subscriber threw; ignored", e);
        }
      }
    }
    if (work) {
      for (Runnable subscriber : workSubscribers) {
        try {
          subscriber.run();
        } catch (RuntimeException e) {
          LOG.warn("a JobStore subscriber threw; ignored", e);
        }
      }
    }
  }
}
