package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.Subscription;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * On PostgreSQL a node's fetch of a batch starts where its last one began (see {@code FetchHints}),
 * and still takes a job that came back before that place first, or at the latest once the hint's
 * time is up: jobs queued again through this store, through another node's store, a retry that
 * falls due, and one found only when the fetch from the hint comes up short.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FetchHintsIT {
  private static final String TYPE = "hinted";
  private static final String NODE = "node-a";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

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
    List<ClaimedJob> first = claimAndFetch(T0); // seq 0 claimed, 1-3 fetched: the hint is 1
    fetch(store, 3, T0); // from the hint: 4-6
    ClaimedJob back = first.get(2); // seq 2

    store.complete(List.of(JobOutcome.released(back).withoutSlot()), T0);

    assertEquals(back.id(), fetch(store, 3, T0).get(0).id());
  }

  @Test
  void aJobQueuedAgainThroughAnotherNodesStore_isFetchedFirstOnceTheNoticeArrives()
      throws Exception {
    BlockingQueue<Object> heard = new LinkedBlockingQueue<>();
    Subscription listening = store.subscribe(() -> heard.add(Boolean.TRUE));
    try {
      awaitListening(heard);
      StartedBatches.insert(store, TYPE, 40, 3, T0);
      List<ClaimedJob> first = claimAndFetch(T0);
      fetch(store, 3, T0);
      JdbcJobStore other =
          JdbcJobStore.builder(tables.dataSource()).tablePrefix(tables.prefix()).build();
      ClaimedJob back = first.get(2);

      other.complete(List.of(JobOutcome.released(back).withoutSlot()), T0);

      // notices sent before this one may still arrive first: each is followed by one fetch
      boolean fetchedFirst = false;
      for (int i = 0; i < 8 && !fetchedFirst; i++) {
        assertNotNull(heard.poll(20, TimeUnit.SECONDS), "no notice of the job queued again");
        fetchedFirst = fetch(store, 1, T0).get(0).id().equals(back.id());
      }
      assertTrue(fetchedFirst, "the job queued again by the other node was passed over");
    } finally {
      listening.close();
    }
  }

  @Test
  void aRetryThatFallsDue_isFetchedFirstOnceTheHintsTimeIsUp() {
    StartedBatches.insert(store, TYPE, 20, 3, T0);
    List<ClaimedJob> first = claimAndFetch(T0);
    ClaimedJob retried = first.get(1); // seq 1
    Instant due = T0.plusMillis(50);
    store.complete(List.of(JobOutcome.retry(retried, "again", due).withoutSlot()), T0);
    fetch(store, 3, T0.plusMillis(10)); // from the head, passing the retry: 4-6, the hint is 4
    fetch(store, 3, due.plusMillis(10)); // may start at the hint: the retry waits behind 7-9

    Instant hintEnd = T0.plusMillis(10).plus(Duration.ofMillis(100));
    assertEquals(retried.id(), fetch(store, 3, hintEnd).get(0).id());
  }

  @Test
  void aFetchFromTheHintThatComesUpShort_fetchesTheRestFromTheHead() {
    StartedBatches.insert(store, TYPE, 8, 3, T0);
    List<ClaimedJob> first = claimAndFetch(T0);
    ClaimedJob retried = first.get(2); // seq 2
    Instant due = T0.plusMillis(50);
    store.complete(List.of(JobOutcome.retry(retried, "again", due).withoutSlot()), T0);
    fetch(store, 3, T0.plusMillis(10)); // from the head: 4-6, the hint is 4

    List<ClaimedJob> rest = fetch(store, 3, due.plusMillis(10)); // from the hint: only 7

    assertEquals(2, rest.size(), rest.toString());
    assertEquals(retried.id(), rest.get(0).id());
  }

  /** Sends notices on the store's work channel until its listener hears one. */
  private void awaitListening(BlockingQueue<Object> heard) throws Exception {
    String channel = (tables.prefix() + "work").toLowerCase(Locale.ROOT);
    try (Connection c = tables.dataSource().getConnection();
        PreparedStatement notice = c.prepareStatement("SELECT pg_notify(?, '')")) {
      notice.setString(1, channel);
      for (int i = 0; i < 200; i++) {
        notice.execute();
        if (heard.poll(100, TimeUnit.MILLISECONDS) != null) {
          return;
        }
      }
    }
    fail("the store's listener heard none of 200 notices");
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
