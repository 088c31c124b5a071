package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.spi.Subscription;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * On PostgreSQL, a node that polls only once a minute still runs work created on another node at
 * once, and sees a batch that another node finished at once, because the store announces new work
 * and finished batches with NOTIFY and listens with LISTEN.
 */
@Timeout(120)
class NotifyIT {
  private final String prefix = TestDatabases.uniquePrefix();
  private HikariDataSource db;

  @BeforeEach
  void open() {
    db = TestDatabases.postgres(6);
  }

  @AfterEach
  void drop() throws Exception {
    TestDatabases.drop(db, prefix);
    db.close();
  }

  /**
   * The node that waits has no processor and polls once a minute, and it waits for 30 s: only the
   * store's notification can tell it in time that the other node finished the batch.
   */
  @Test
  void batchFinishedOnOneNode_completesTheAwaitOfANodeThatPollsRarely() throws Exception {
    JdbcJobStore workerStore =
        JdbcJobStore.builder(db).tablePrefix(prefix).createSchema(true).build();
    JdbcJobStore waiterStore = JdbcJobStore.builder(db).tablePrefix(prefix).build();
    try (BatchService worker =
            BatchService.builder()
                .store(workerStore)
                .nodeId("worker")
                .discoverProcessors(false)
                .processor("t", ctx -> "done " + ctx.payload())
                .build();
        BatchService waiter =
            BatchService.builder()
                .store(waiterStore)
                .nodeId("waiter")
                .discoverProcessors(false)
                .allowUnknownJobTypes(true)
                .pollInterval(Duration.ofMinutes(1))
                .maxPollInterval(Duration.ofMinutes(1))
                .build()) {
      for (int round = 0; round < 3; round++) {
        Batch batch =
            waiter.submit(BatchRequest.builder("t").items(java.util.List.of("a", "b")).build());
        java.util.concurrent.CompletableFuture<Batch> seen = waiter.completion(batch.id());

        Batch done = waiter.awaitCompletion(batch.id(), Duration.ofSeconds(30));

        assertEquals(BatchStatus.COMPLETED, done.status(), "round " + round + ": " + done);
        assertEquals(2, done.progress().succeeded());
        assertEquals(
            BatchStatus.COMPLETED,
            seen.get(5, java.util.concurrent.TimeUnit.SECONDS).status(),
            "the future completed too");
      }
    }
  }

  @Test
  void workCreatedOnOneNode_wakesAnIdleNodeThatPollsRarely() {
    AtomicInteger runs = new AtomicInteger();
    JdbcJobStore workerStore =
        JdbcJobStore.builder(db).tablePrefix(prefix).createSchema(true).build();
    JdbcJobStore frontStore = JdbcJobStore.builder(db).tablePrefix(prefix).build();
    try (BatchService worker =
            BatchService.builder()
                .store(workerStore)
                .nodeId("sleepy")
                .discoverProcessors(false)
                .pollInterval(Duration.ofMinutes(1))
                .processor("t", ctx -> "" + runs.incrementAndGet())
                .build();
        BatchService front =
            BatchService.builder()
                .store(frontStore)
                .nodeId("front")
                .discoverProcessors(false)
                .allowUnknownJobTypes(true)
                .pollInterval(Duration.ofMillis(50))
                .build()) {
      Batch first = front.submit(BatchRequest.builder("t").item("one").build());
      assertEquals(
          BatchStatus.COMPLETED,
          front.awaitCompletion(first.id(), Duration.ofSeconds(30)).status());

      Batch second =
          front.submit(BatchRequest.builder("t").items(java.util.List.of("a", "b")).build());

      Batch done = front.awaitCompletion(second.id(), Duration.ofSeconds(30));
      assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
      assertEquals(3, runs.get());
      assertEquals("sleepy", worker.nodeId());
    }
  }

  /**
   * The listener's connection comes from the store's pool: when the last subscription ends, it goes
   * back without its LISTENs, or whoever borrows it next would go on collecting the channels'
   * notices.
   */
  @Test
  void theLastSubscriptionEnding_givesTheListenersConnectionBackNotListening() throws Exception {
    JdbcJobStore store = JdbcJobStore.builder(db).tablePrefix(prefix).createSchema(true).build();
    String channel = workChannel();
    whileListening(store, (c, notice, woken) -> assertEquals(1, sessionsListeningLast(channel)));

    assertEquals(0, sessionsListeningLast(channel));
  }

  /**
   * A subscription is in effect when it returns: one notice, sent at once after the first
   * subscription started the listener, is heard (a batch this store finishes right after a service
   * subscribed must be reported). Without the wait it fails whenever the notice beats the
   * listener's LISTEN (one run in two here).
   */
  @Test
  void aNoticeSentRightAfterTheFirstSubscriptionReturns_isHeard() throws Exception {
    JdbcJobStore store = JdbcJobStore.builder(db).tablePrefix(prefix).createSchema(true).build();
    BlockingQueue<Boolean> woken = new LinkedBlockingQueue<>();
    try (Connection c = db.getConnection();
        PreparedStatement notice = c.prepareStatement("SELECT pg_notify(?, '')")) {
      notice.setString(1, workChannel());
      try (Subscription ignored = store.subscribe(() -> woken.add(true))) {
        notice.execute();
        assertTrue(woken.poll(10, TimeUnit.SECONDS) != null, "the notice was not heard");
      }
    }
  }

  /**
   * The listener's session is cut while it listens: the listener must not give the dead connection
   * back to the pool as if it were sound, where the next borrower (the listener itself, as the pool
   * hands a thread back the connection it last returned, unchecked if that was within the pool's
   * half second) would get it. Without the rule this fails unless the listener's retry comes over
   * 400 ms late, when the pool checks the connection itself and drops it.
   */
  @Test
  void aListenerWhoseSessionIsCut_doesNotLendItsDeadConnectionAgain() throws Exception {
    AtomicInteger deadLent = new AtomicInteger();
    DataSource watched =
        InterceptedConnections.wrap(
            db,
            (real, method, args) -> {
              // called on every connection borrowed, by the listener and by each store transaction
              if (method.getName().equals("setAutoCommit") && !real.isValid(5)) {
                deadLent.incrementAndGet();
              }
            });
    JdbcJobStore store =
        JdbcJobStore.builder(watched).tablePrefix(prefix).createSchema(true).build();
    String channel = workChannel();
    whileListening(
        store,
        (c, notice, woken) -> {
          try (PreparedStatement cut =
              c.prepareStatement(
                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      + " WHERE query = ? AND pid <> pg_backend_pid()")) {
            cut.setString(1, "LISTEN " + channel);
            try (ResultSet rs = cut.executeQuery()) {
              assertTrue(rs.next() && rs.getBoolean(1), "no listening session to cut");
            }
          }
          woken.clear();

          assertTrue(heardWithin(notice, woken), "the listener never listened again");
        });
    assertEquals(0, deadLent.get(), "connections lent dead");
  }

  /**
   * The listener's first LISTEN is refused, as on a read-only standby: its connection is sound, so
   * it goes back to the pool as it is, not aborted, and the listener listens at its next try.
   */
  @Test
  void aListenerWhoseListenIsRefused_givesItsSoundConnectionBackUnaborted() throws Exception {
    AtomicInteger refusals = new AtomicInteger(1);
    int aborted =
        abortsListeningOnce(
            (real, method, args) -> {
              if (method.getName().equals("createStatement") && refusals.getAndDecrement() > 0) {
                throw new SQLException("cannot execute LISTEN during recovery", "25006");
              }
            });
    assertTrue(refusals.get() < 0, "the LISTEN was not refused once");
    assertEquals(0, aborted, "sound connections aborted");
  }

  /**
   * The listener stops, and its {@code UNLISTEN} fails: the connection must not go back to the pool
   * still listening, so it is aborted.
   */
  @Test
  void aListenerThatCannotEndItsListens_abortsItsConnectionAsItStops() throws Exception {
    AtomicInteger statements = new AtomicInteger();
    int aborted =
        abortsListeningOnce(
            (real, method, args) -> {
              if (method.getName().equals("createStatement") && statements.incrementAndGet() > 1) {
                throw new SQLException("the UNLISTEN failed", "57014");
              }
            });
    assertEquals(2, statements.get(), "the listener's statements: its LISTENs and its UNLISTEN");
    assertEquals(1, aborted, "connections aborted");
  }

  /**
   * Subscribes to the work notices of a store whose connections go through {@code hook} until its
   * listener hears one, then ends the subscription, which stops the listener; returns how many
   * connections were aborted. Only the listener creates plain statements through that store (its
   * steps prepare theirs, and the schema is made by another store), so a hook on {@code
   * createStatement} meets only the listener's LISTENs and UNLISTENs.
   */
  private int abortsListeningOnce(InterceptedConnections.Hook hook) throws Exception {
    JdbcJobStore.builder(db).tablePrefix(prefix).createSchema(true).build();
    AtomicInteger aborted = new AtomicInteger();
    DataSource watched =
        InterceptedConnections.wrap(
            db,
            (real, method, args) -> {
              if (method.getName().equals("abort")) {
                aborted.incrementAndGet();
              }
              hook.before(real, method, args);
            });
    whileListening(
        JdbcJobStore.builder(watched).tablePrefix(prefix).build(), (c, notice, woken) -> {});
    return aborted.get();
  }

  /** What a test does while a store's listener listens. */
  @FunctionalInterface
  private interface Listening {
    /**
     * @param c a connection of the test's own
     * @param notice sends a notice of work on the store's channel
     * @param woken where the store's work subscription adds one element per wake-up
     */
    void run(Connection c, PreparedStatement notice, BlockingQueue<Boolean> woken) throws Exception;
  }

  /**
   * Subscribes to {@code store}'s work notices, sends notices until its listener hears one (a
   * subscription waits at most a second for the listener to listen, and a test may make its first
   * LISTEN fail), runs {@code test}, then ends the subscription, which stops the listener.
   */
  private void whileListening(JdbcJobStore store, Listening test) throws Exception {
    BlockingQueue<Boolean> woken = new LinkedBlockingQueue<>();
    try (Subscription ignored = store.subscribe(() -> woken.add(true));
        Connection c = db.getConnection();
        PreparedStatement notice = c.prepareStatement("SELECT pg_notify(?, '')")) {
      notice.setString(1, workChannel());
      assertTrue(heardWithin(notice, woken), "the store's listener never heard a notice");
      test.run(c, notice, woken);
    }
  }

  /** Sends notices on {@code notice} until one wakes a subscriber, for up to 20 s. */
  private static boolean heardWithin(PreparedStatement notice, BlockingQueue<Boolean> woken)
      throws SQLException, InterruptedException {
    for (int i = 0; i < 200; i++) {
      notice.execute();
      if (woken.poll(100, TimeUnit.MILLISECONDS) != null) {
        return true;
      }
    }
    return false;
  }

  /** The store's work channel, as PostgreSQL names it (LISTEN folds the name to lower case). */
  private String workChannel() {
    return (prefix + "work").toLowerCase(Locale.ROOT);
  }

  /** The sessions whose last statement was a LISTEN on {@code channel}. */
  private int sessionsListeningLast(String channel) throws SQLException {
    try (Connection c = db.getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT count(*) FROM pg_stat_activity WHERE query = ?")) {
      ps.setString(1, "LISTEN " + channel);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    }
  }
}
