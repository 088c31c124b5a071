package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.batchkit.BatchId;
import io.batchkit.JobId;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStoreException;
import io.batchkit.spi.Subscription;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * On PostgreSQL a node's fetch of a batch starts where its last one ended (see {@code FetchHints}),
 * and still takes a job that came back before that place first, or at the latest once the hint's
 * time is up: jobs queued again through this store, through another node's store, or while the
 * store's listener was away, jobs a fetch took and gave back as its commit failed, a job another
 * step held as the last fetch passed it, a retry that falls due, and one found only when the fetch
 * from the hint comes up short.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FetchHintsIT {
  private static final String TYPE = "hinted";
  private static final String NODE = "node-a";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  /** When the retry of {@link #retriedBehindAHint} falls due. */
  private static final Instant DUE = T0.plusMillis(50);

  /** When {@link #retriedBehindAHint} makes the hint, by a fetch from the head. */
  private static final Instant HINTED = T0.plusMillis(10);

  private final SharedTables tables = new SharedTables(() -> TestDatabases.postgres(6));
  private JdbcJobStore store;

  @BeforeEach
  void emptyTables() {
    store = tables.emptyStore();
  }

  @AfterAll
  void dropTables() throws Exception {
    tables.close();
  }

  @Test
  void aJobQueuedAgainThroughThisStore_isFetchedFirst() {
    StartedBatches.insert(store, TYPE, 20, 3, T0);
    List<ClaimedJob> first = claimAndFetch(T0); // seq 0 claimed, 1-3 fetched: the hint is 4
    fetch(store, 3, T0); // from the hint: 4-6
    ClaimedJob back = first.get(2); // seq 2

    store.complete(List.of(JobOutcome.released(back).withoutSlot()), T0);

    assertEquals(back.id(), fetch(store, 3, T0).get(0).id());
  }

  @Test
  void aJobQueuedAgainThroughAnotherNodesStore_isFetchedFirstOnceTheNoticeArrives()
      throws Exception {
    BlockingQueue<BatchId> finished = new LinkedBlockingQueue<>();
    Subscription listening = store.subscribeFinished(finished::add);
    try {
      StartedBatches.insert(store, TYPE, 40, 3, T0);
      awaitNoticesDelivered(finished); // the insert's notice too: it can void no hint made after
      List<ClaimedJob> first = claimAndFetch(T0);
      fetch(store, 3, T0); // from the hint: 4-6
      JdbcJobStore other =
          JdbcJobStore.builder(tables.dataSource()).tablePrefix(tables.prefix()).build();
      ClaimedJob back = first.get(2);

      other.complete(List.of(JobOutcome.released(back).withoutSlot()), T0);
      awaitNoticesDelivered(finished); // the other store's notice of work, sent before

      assertEquals(back.id(), fetch(store, 3, T0).get(0).id(), "passed over");
    } finally {
      listening.close();
    }
  }

  @Test
  void aJobQueuedAgainWhileTheListenerWasAway_isFetchedFirstOnceItListensAgain() throws Exception {
    BlockingQueue<BatchId> finished = new LinkedBlockingQueue<>();
    Subscription listening = store.subscribeFinished(finished::add);
    try {
      StartedBatches.insert(store, TYPE, 20, 3, T0);
      awaitNoticesDelivered(finished);
      List<ClaimedJob> first = claimAndFetch(T0);
      fetch(store, 3, T0); // from the hint: 4-6
      ClaimedJob back = first.get(2); // seq 2
      try (Connection c = tables.dataSource().getConnection();
          PreparedStatement requeue =
              c.prepareStatement(
                  "UPDATE " + tables.prefix() + "jobs SET status = 'QUEUED' WHERE id = ?");
          PreparedStatement cut =
              c.prepareStatement(
                  "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                      + " WHERE query = ? AND pid <> pg_backend_pid()")) {
        // queued again with no notice, as one sent while nobody listened would be lost
        requeue.setObject(1, back.id().value());
        assertEquals(1, requeue.executeUpdate());
        cut.setString(1, "LISTEN " + (tables.prefix() + "work").toLowerCase(Locale.ROOT));
        try (ResultSet rs = cut.executeQuery()) {
          assertTrue(rs.next() && rs.getBoolean(1), "no listening session to cut");
          assertFalse(rs.next(), "more than one session listening");
        }
      }
      awaitNoticesDelivered(finished); // listening again

      // the claims' clock stands still: only the listener's new start voided the hint
      assertEquals(back.id(), fetch(store, 3, T0).get(0).id(), "passed over");
    } finally {
      listening.close();
    }
  }

  @Test
  void aFetchRunAgainAfterItsCommitFailed_takesTheJobsTheFailedAttemptGaveBack()
      throws SQLException {
    AtomicReference<String> failNextCommit = new AtomicReference<>();
    store = failingCommits(failNextCommit);
    StartedBatches.insert(store, TYPE, 20, 3, T0);
    claimAndFetch(T0); // seq 0 claimed, 1-3 fetched: the hint is 4

    failNextCommit.set("40001"); // a serialization failure: the store runs the transaction again
    List<ClaimedJob> again = fetch(store, 3, T0); // takes 4-6, fails to commit, runs again

    assertNull(failNextCommit.get(), "no commit failed");
    assertEquals(List.of(4L, 5L, 6L), seqsOf(again));
  }

  @Test
  void aFetchAfterOneWhoseCommitFailed_takesTheJobsTheFailedOneGaveBack() throws SQLException {
    AtomicReference<String> failNextCommit = new AtomicReference<>();
    store = failingCommits(failNextCommit);
    StartedBatches.insert(store, TYPE, 20, 3, T0);
    claimAndFetch(T0); // seq 0 claimed, 1-3 fetched: the hint is 4

    failNextCommit.set("08006"); // a lost connection: the call fails
    assertThrows(JobStoreException.class, () -> fetch(store, 3, T0)); // took 4-6, rolled back

    assertEquals(List.of(4L, 5L, 6L), seqsOf(fetch(store, 3, T0)));
  }

  @Test
  void aJobHeldWhileTheLastFetchPassedIt_isFetchedFirstOnceTheHintsTimeIsUp() throws SQLException {
    BatchId batch = StartedBatches.insert(store, TYPE, 20, 3, T0).id();
    JobId held;
    try (Connection c = tables.dataSource().getConnection();
        PreparedStatement lock =
            c.prepareStatement(
                "SELECT id FROM "
                    + tables.prefix()
                    + "jobs WHERE batch_id = ? AND seq = 2 FOR UPDATE")) {
      c.setAutoCommit(false);
      lock.setObject(1, batch.value());
      try (ResultSet rs = lock.executeQuery()) { // a step that holds seq 2, then rolls back
        assertTrue(rs.next());
        held = new JobId(rs.getObject(1, UUID.class));
        List<ClaimedJob> first = claimAndFetch(T0); // seq 0 claimed, 1, 3 and 4 fetched
        assertFalse(first.stream().anyMatch(j -> j.id().equals(held)), first.toString());
      } finally {
        c.rollback();
      }
    }

    // the fetch from the hint starts past seq 4, the last job the first fetch took: seq 2, free
    // again without a notice, waits behind 5-7
    List<ClaimedJob> next = fetch(store, 3, T0.plusMillis(10));
    assertEquals(3, next.size(), next.toString());
    assertFalse(next.stream().anyMatch(j -> j.id().equals(held)), "read from before the hint");

    Instant hintEnd = T0.plus(Duration.ofMillis(100)); // FetchHints.LIFETIME
    assertEquals(held, fetch(store, 3, hintEnd).get(0).id());
  }

  @Test
  void aRetryThatFallsDue_isFetchedFirstOnceTheHintsTimeIsUp() {
    ClaimedJob retried = retriedBehindAHint(20);
    fetch(store, 3, DUE.plusMillis(10)); // may start at the hint: the retry waits behind 7-9

    Instant hintEnd = HINTED.plus(Duration.ofMillis(100)); // FetchHints.LIFETIME
    assertEquals(retried.id(), fetch(store, 3, hintEnd).get(0).id());
  }

  @Test
  void aFetchFromTheHintThatComesUpShort_fetchesTheRestFromTheHead() {
    ClaimedJob retried = retriedBehindAHint(8);

    List<ClaimedJob> rest = fetch(store, 3, DUE.plusMillis(10)); // from the hint: only 7

    assertEquals(2, rest.size(), rest.toString());
    assertEquals(retried.id(), rest.get(0).id());
  }

  /**
   * Stores a batch of {@code size} jobs, claims seq 0 and fetches 1-3, retries seq 2 at {@link
   * #DUE}, and fetches 4-6 from the head at {@link #HINTED}, passing the retry: the hint is 7.
   */
  private ClaimedJob retriedBehindAHint(int size) {
    StartedBatches.insert(store, TYPE, size, 3, T0);
    ClaimedJob retried = claimAndFetch(T0).get(2);
    store.complete(List.of(JobOutcome.retry(retried, "again", DUE).withoutSlot()), T0);
    assertEquals(3, fetch(store, 3, HINTED).size());
    return retried;
  }

  /**
   * Waits until the store's listener has acted on every notice sent before: sends a marker of its
   * own on the channel of finished batches until the store passes it on (a listener that is not
   * listening yet misses some), as notices reach a listener in the order they were sent and the
   * listener acts on a delivery's notices of work before it passes finished batches on.
   */
  private void awaitNoticesDelivered(BlockingQueue<BatchId> finished) throws Exception {
    String channel = (tables.prefix() + "finished").toLowerCase(Locale.ROOT);
    try (Connection c = tables.dataSource().getConnection();
        PreparedStatement notice = c.prepareStatement("SELECT pg_notify(?, ?)")) {
      for (int i = 0; i < 200; i++) {
        BatchId marker = BatchId.random();
        notice.setString(1, channel);
        notice.setString(2, marker.toString());
        notice.execute();
        for (BatchId heard = finished.poll(100, TimeUnit.MILLISECONDS);
            heard != null;
            heard = finished.poll(100, TimeUnit.MILLISECONDS)) {
          if (heard.equals(marker)) {
            return;
          }
        }
      }
    }
    fail("the store's listener passed on none of 200 notices");
  }

  /** The seqs of {@code jobs}, in order. */
  private List<Long> seqsOf(List<ClaimedJob> jobs) throws SQLException {
    List<Long> seqs = new ArrayList<>();
    try (Connection c = tables.dataSource().getConnection();
        PreparedStatement ps =
            c.prepareStatement("SELECT seq FROM " + tables.prefix() + "jobs WHERE id = ?")) {
      for (ClaimedJob job : jobs) {
        ps.setObject(1, job.id().value());
        try (ResultSet rs = ps.executeQuery()) {
          assertTrue(rs.next(), job.toString());
          seqs.add(rs.getLong(1));
        }
      }
    }
    return seqs;
  }

  /** A store on the shared tables whose next commit fails with the SQLState set in {@code next}. */
  private JdbcJobStore failingCommits(AtomicReference<String> next) {
    return JdbcJobStore.builder(failingCommit(tables.dataSource(), next))
        .tablePrefix(tables.prefix())
        .build();
  }

  /**
   * Wraps {@code ds} so that, while {@code failNext} holds an SQLState, a commit rolls back instead
   * and fails with that state, clearing it: the driver's {@code commit()}, or the statement that
   * commits a PostgreSQL job step itself (it sends the commit with its setting, in one round trip).
   */
  private static DataSource failingCommit(DataSource ds, AtomicReference<String> failNext) {
    return InterceptedConnections.wrap(
        ds,
        (real, method, args) -> {
          boolean commits =
              method.getName().equals("commit")
                  || (method.getName().equals("prepareStatement")
                      && ((String) args[0]).endsWith("; COMMIT"));
          String state = commits ? failNext.getAndSet(null) : null;
          if (state != null) {
            real.rollback();
            throw new SQLException("commit failed (test)", state);
          }
        });
  }

  /** Claims one job with a slot (seq 0), and fetches three more (seq 1 to 3) in that slot. */
  private List<ClaimedJob> claimAndFetch(Instant now) {
    List<ClaimedJob> got =
        store.claim(
            new ClaimRequest(
                NODE,
                1,
                now,
                now.plusSeconds(60),
                Duration.ofMinutes(1),
                Map.of(TYPE, 1),
                Map.of(TYPE, 3),
                Map.of()));
    assertEquals(4, got.size(), got.toString());
    return got;
  }

  /** Fetches up to {@code n} jobs ahead, in the slot {@link #claimAndFetch} took. */
  private static List<ClaimedJob> fetch(JdbcJobStore store, int n, Instant now) {
    return store.claim(
        new ClaimRequest(
            NODE,
            0,
            now,
            now.plusSeconds(60),
            Duration.ofMinutes(1),
            Map.of(),
            Map.of(TYPE, n),
            Map.of()));
  }
}
