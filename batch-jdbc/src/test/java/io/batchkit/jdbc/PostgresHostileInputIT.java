package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.spi.Subscription;
import io.batchkit.testkit.Await;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import javax.sql.DataSource;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile input on PostgreSQL (see {@link TestDatabases} for the server's address), and one input
 * only PostgreSQL is sensitive to: a table prefix with capital letters.
 */
class PostgresHostileInputIT extends AbstractHostileInputTest {
  @Override
  protected DataSource openDataSource() {
    return TestDatabases.postgres(8);
  }

  /**
   * A prefix with capitals is valid ({@code tablePrefix} accepts letters of either case), so it
   * must work like any other, including the LISTEN/NOTIFY wake-up between nodes: a store listening
   * on the prefix is told when another store instance on it (another node) creates work. The
   * all-lower-case prefix is the control. PostgreSQL folds an unquoted identifier in {@code LISTEN}
   * to lower case but takes the channel of {@code pg_notify(text, ...)} verbatim.
   */
  @ParameterizedTest
  @ValueSource(strings = {"bkcase", "BkCase"})
  void prefixOfEitherCase_wakesAListeningStore_whenAnotherStoreCreatesWork(String start)
      throws Exception {
    String prefix = start + TestDatabases.uniquePrefix().substring(2);
    DataSource db = dataSource();
    JdbcJobStore listening =
        JdbcJobStore.builder(db).tablePrefix(prefix).createSchema(true).build();
    JdbcJobStore creating = JdbcJobStore.builder(db).tablePrefix(prefix).build();
    CountDownLatch woken = new CountDownLatch(1);
    CountDownLatch finished = new CountDownLatch(1);
    try (Subscription ignored = listening.subscribe(woken::countDown);
        Subscription alsoIgnored = listening.subscribeFinished(id -> finished.countDown());
        BatchService front =
            BatchService.builder()
                .store(creating)
                .discoverProcessors(false)
                .allowUnknownJobTypes(true)
                .build()) {
      String listen = "LISTEN " + prefix + "work";
      Await.until(
          "the store listens: a session ran '" + listen + "'",
          Duration.ofSeconds(30),
          () -> listenerReady(db, listen));

      Batch batch = front.submit(BatchRequest.builder("nobody runs this").item("x").build());

      assertTrue(
          woken.await(10, TimeUnit.SECONDS),
          "a store listening on prefix '"
              + prefix
              + "' was not woken by work created on it (channel '"
              + prefix.toLowerCase(Locale.ROOT)
              + "work' listened to, '"
              + prefix
              + "work' notified?)");

      front.cancelBatch(batch.id()); // nothing runs: the cancellation finishes the batch
      assertTrue(
          finished.await(10, TimeUnit.SECONDS),
          "a store listening on prefix '" + prefix + "' was not told the batch finished");
    } finally {
      TestDatabases.drop(db, prefix);
    }
  }

  private static boolean listenerReady(DataSource db, String listen) {
    try (Connection c = db.getConnection();
        PreparedStatement ps =
            c.prepareStatement(
                "SELECT count(*) FROM pg_stat_activity WHERE lower(query) = lower(?) AND state = 'idle'")) {
      ps.setString(1, listen);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1) > 0;
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }
}
