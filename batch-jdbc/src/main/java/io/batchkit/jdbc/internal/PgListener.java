package io.batchkit.jdbc.internal;

import io.batchkit.internal.util.DaemonThreadFactory;
import java.lang.reflect.Method;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Listens on a PostgreSQL channel with {@code LISTEN} on a connection of its own and runs the
 * subscribers when a notification arrives, so that nodes wake at once when another node creates
 * work. One daemon thread per store, started with the first subscriber and stopped with the last.
 * The PostgreSQL driver is the user's dependency, not ours, so its {@code PGConnection} is reached
 * by reflection. A lost connection is logged once and reopened with a backoff; meanwhile the
 * services fall back on polling.
 */
final class PgListener {
  private static final Logger LOG = LoggerFactory.getLogger(PgListener.class);
  private static final int WAIT_MILLIS = 500;

  private final DataSource dataSource;
  private final String channel;
  private final List<Runnable> subscribers = new CopyOnWriteArrayList<>();

  /** Guarded by this. */
  private Thread thread;

  /** Written under this, read by the listening thread. */
  private volatile boolean running;

  PgListener(DataSource dataSource, String channel) {
    this.dataSource = dataSource;
    this.channel = channel;
  }

  synchronized void add(Runnable subscriber) {
    subscribers.add(subscriber);
    if (thread == null) {
      running = true;
      thread = new DaemonThreadFactory("batchkit-pg-listen-" + channel).newThread(this::listen);
      thread.start();
    }
  }

  void remove(Runnable subscriber) {
    Thread stopping;
    synchronized (this) {
      subscribers.remove(subscriber);
      if (!subscribers.isEmpty() || thread == null) {
        return;
      }
      running = false;
      stopping = thread;
      thread = null;
    }
    stopping.interrupt();
    try {
      stopping.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void listen() {
    long backoffMillis = 100;
    boolean failing = false;
    while (running) {
      try (Connection connection = dataSource.getConnection()) {
        connection.setAutoCommit(true);
        try (Statement statement = connection.createStatement()) {
          // the channel is the store's validated table prefix plus "work": an identifier, not input
          statement.execute("LISTEN " + channel);
        }
        Object pg = connection.unwrap(Class.forName("org.postgresql.PGConnection"));
        Method poll = pg.getClass().getMethod("getNotifications", int.class);
        poll.setAccessible(true);
        if (failing) {
          LOG.warn("listening for work on PostgreSQL channel {} again", channel);
          failing = false;
        }
        backoffMillis = 100;
        while (running) {
          Object[] notifications = (Object[]) poll.invoke(pg, WAIT_MILLIS);
          if (notifications != null && notifications.length > 0) {
            for (Runnable subscriber : subscribers) {
              try {
                subscriber.run();
              } catch (RuntimeException e) {
                LOG.warn("a JobStore subscriber threw; ignored", e);
              }
            }
          }
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
              "lost the PostgreSQL LISTEN connection for {} ({}); services poll until it is back",
              channel,
              cause.toString());
          failing = true;
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(backoffMillis));
        backoffMillis = Math.min(backoffMillis * 2, 10_000);
      }
    }
  }
}
