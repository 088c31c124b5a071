package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchListener;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.testkit.WebhookReceiver;
import io.batchkit.testkit.WebhookReceiver.Received;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Webhooks across nodes on real databases, against a real HTTP server: three nodes finishing many
 * small batches at once post each finish exactly once and tell the {@code batchFinished} listener
 * of exactly one node once; a node killed after its batch finished leaves the notification in the
 * store, and another node delivers it.
 */
class WebhookIT {
  private static final String SECRET = "webhook-it-secret-0123456789";
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final Pattern BATCH_ID =
      Pattern.compile("\"batch\":\\{\"id\":\"([0-9a-f-]{36})\"");

  private final String prefix = TestDatabases.uniquePrefix();
  private final WebhookReceiver receiver = WebhookReceiver.start();
  private final List<BatchService> services = new ArrayList<>();
  private final List<HikariDataSource> pools = new ArrayList<>();
  private ChildJvm child;

  @AfterEach
  void tearDown() throws Exception {
    try {
      if (child != null) {
        child.close();
      }
      services.forEach(BatchService::close);
      receiver.close();
    } finally {
      if (!pools.isEmpty()) {
        TestDatabases.drop(pools.get(0), prefix);
      }
      pools.forEach(HikariDataSource::close);
    }
  }

  @ParameterizedTest(name = "on {0}")
  @ValueSource(strings = {"postgres", "mariadb"})
  void threeNodes_finishingManySmallBatchesAtOnce_postEachFinishOnce_andTellOneListenerOnce(
      String database) throws Exception {
    IntFunction<HikariDataSource> open =
        "postgres".equals(database) ? TestDatabases::postgres : TestDatabases::mariadb;
    Map<BatchId, AtomicInteger> told = new ConcurrentHashMap<>();
    BatchListener listener =
        new BatchListener() {
          @Override
          public void batchFinished(Batch batch) {
            told.computeIfAbsent(batch.id(), k -> new AtomicInteger()).incrementAndGet();
          }
        };
    List<BatchService> nodes = new ArrayList<>();
    for (String node : List.of("a", "b", "c")) {
      nodes.add(node(open.apply(6), node, listener));
    }
    int batches = 60;
    List<BatchId> ids = new ArrayList<>();
    for (int i = 0; i < batches; i++) {
      // three jobs, three slots: the nodes race on each batch's last jobs
      BatchRequest request =
          BatchRequest.builder("quick").items(List.of("1", "2", "3")).maxConcurrency(3).build();
      ids.add(nodes.get(i % 3).submit(request).id());
    }
    for (BatchId id : ids) {
      nodes.get(0).awaitCompletion(id, WAIT);
    }
    receiver.await(batches, WAIT);
    services.forEach(BatchService::close); // each sender's last round: a duplicate comes by now

    Map<String, Integer> posted = new ConcurrentHashMap<>();
    for (Received r : receiver.received()) {
      assertEquals("FINISHED", r.event());
      assertTrue(WebhookReceiver.verifies(SECRET, r), r.signature());
      Matcher m = BATCH_ID.matcher(r.body());
      assertTrue(m.find(), r.body());
      posted.merge(m.group(1), 1, Integer::sum);
    }
    for (BatchId id : ids) {
      assertEquals(1, posted.getOrDefault(id.toString(), 0), "posts of the finish of " + id);
      assertEquals(1, told.getOrDefault(id, new AtomicInteger()).get(), "listeners told of " + id);
    }
    assertEquals(batches, receiver.received().size());
    assertEquals(batches, told.size());
    assertEquals(0, pendingDeliveries(pools.get(0)), "every delivery was recorded delivered");
  }

  @Test
  void finishingNodeKilled_afterAFailedTry_anotherNodeDeliversTheNotification() throws Exception {
    HikariDataSource pool = TestDatabases.postgres(4);
    pools.add(pool);
    JdbcJobStore.builder(pool).tablePrefix(prefix).createSchema(true).build();
    receiver.answer(500); // the child's try fails; it would try again 5 s later, but dies first
    child =
        ChildJvm.start(
            WebhookChild.class,
            List.of(),
            pool.getJdbcUrl(),
            prefix,
            receiver.url().toString(),
            SECRET);
    BatchId id = BatchId.parse(child.awaitLine(WebhookChild.BATCH_LINE, WAIT));
    child.awaitUntil("the child recorded its failed try", WAIT, () -> failedTries(pool) == 1);

    child.kill();
    Received first = receiver.received().get(0);
    node(pool, "survivor", new BatchListener() {});

    List<Received> got = receiver.await(2, WAIT);
    Received second = got.get(1);
    assertEquals(first.deliveryId(), second.deliveryId(), "the same delivery, tried again");
    assertEquals(first.body(), second.body());
    assertTrue(second.body().contains(id.toString()), second.body());
    assertTrue(WebhookReceiver.verifies(SECRET, second));
    services.forEach(BatchService::close);
    assertEquals(2, receiver.received().size(), receiver.received().toString());
    assertEquals(0, pendingDeliveries(pool));
  }

  private BatchService node(HikariDataSource pool, String nodeId, BatchListener listener) {
    pools.add(pool);
    BatchService service =
        BatchService.builder()
            .store(JdbcJobStore.builder(pool).tablePrefix(prefix).createSchema(true).build())
            .discoverProcessors(false)
            .nodeId(nodeId)
            .pollInterval(Duration.ofMillis(50))
            .processor(
                "quick",
                ctx -> {
                  Thread.sleep(ThreadLocalRandom.current().nextInt(3));
                  return ctx.payload();
                })
            .processor(WebhookChild.JOB_TYPE, ctx -> ctx.payload())
            .listener(listener)
            .webhook(receiver.url())
            .webhookSecret(SECRET)
            .build();
    services.add(service);
    return service;
  }

  private long pendingDeliveries(HikariDataSource pool) throws SQLException {
    return count(pool, "SELECT COUNT(*) FROM " + prefix + "webhook_deliveries");
  }

  private long failedTries(HikariDataSource pool) {
    try {
      return count(
          pool,
          "SELECT COUNT(*) FROM " + prefix + "webhook_deliveries WHERE last_error IS NOT NULL");
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private static long count(HikariDataSource pool, String sql) throws SQLException {
    try (Connection c = pool.getConnection();
        Statement s = c.createStatement();
        ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getLong(1);
    }
  }
}
