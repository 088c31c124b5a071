package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.CancellationSummary;
import io.batchkit.JobContext;
import io.batchkit.Progress;
import io.batchkit.testkit.Await;
import java.io.PrintWriter;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.SQLTransientConnectionException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Services on the JDBC store (H2): cancellation across nodes and a database outage. */
@Timeout(120)
class ServiceOnJdbcTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private final List<BatchService> services = new ArrayList<>();
  private final List<CountDownLatch> gates = new ArrayList<>();

  @AfterEach
  void closeAll() {
    gates.forEach(g -> g.countDown());
    services.forEach(BatchService::close);
  }

  private BatchService start(BatchService.Builder builder) {
    BatchService service =
        builder
            .discoverProcessors(false)
            .pollInterval(Duration.ofMillis(20))
            .maxPollInterval(Duration.ofMillis(200))
            .build();
    services.add(service);
    return service;
  }

  private static List<String> items(int n) {
    return IntStream.range(0, n).mapToObj(i -> "item-" + i).collect(Collectors.toList());
  }

  /**
   * With the default settings a service fetches ahead once a job of the type has ended: through a
   * batch limit of 1, the batch shows more than one job processing (leased to the service), while
   * only one runs at a time.
   */
  @Test
  void byDefault_aServiceFetchesAheadOnceItKnowsHowLongTheJobsTake() {
    JdbcJobStore store = JdbcJobStore.builder(TestDatabases.h2()).createSchema(true).build();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger peak = new AtomicInteger();
    AtomicInteger maxProcessing = new AtomicInteger();
    BatchService[] self = new BatchService[1];
    BatchService service =
        start(
            BatchService.builder()
                .store(store)
                .processor(
                    "t",
                    ctx -> {
                      peak.accumulateAndGet(running.incrementAndGet(), Math::max);
                      try {
                        long processing = self[0].getBatch(ctx.batchId()).progress().processing();
                        maxProcessing.accumulateAndGet((int) processing, Math::max);
                        return "ok";
                      } finally {
                        running.decrementAndGet();
                      }
                    }));
    self[0] = service;
    Batch batch =
        service.submit(BatchRequest.builder("t").items(items(300)).maxConcurrency(1).build());

    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(new Progress(300, 0, 0, 300, 0, 0), done.progress(), done.toString());
    assertEquals(1, peak.get(), "the batch's limit");
    assertTrue(maxProcessing.get() > 1, "processing reached only " + maxProcessing.get());
  }

  @Test
  void cancel_onOneNode_stopsJobsRunningOnAnotherWithinAHeartbeat() throws Exception {
    DataSource db = TestDatabases.h2();
    CountDownLatch never = new CountDownLatch(1);
    gates.add(never);
    CountDownLatch twoRunning = new CountDownLatch(2);
    List<JobContext> running = Collections.synchronizedList(new ArrayList<>());
    JdbcJobStore workerStore = JdbcJobStore.builder(db).createSchema(true).build();
    start(
        BatchService.builder()
            .store(workerStore)
            .nodeId("worker")
            .leaseDuration(Duration.ofSeconds(3))
            .processor(
                "t",
                ctx -> {
                  running.add(ctx);
                  twoRunning.countDown();
                  never.await();
                  return "unreachable";
                }));
    // the other node runs nothing of this type: it only creates and cancels
    BatchService front =
        start(
            BatchService.builder()
                .store(JdbcJobStore.builder(db).build())
                .nodeId("front")
                .allowUnknownJobTypes(true));
    Batch batch =
        front.submit(BatchRequest.builder("t").items(items(10)).maxConcurrency(2).build());
    assertTrue(twoRunning.await(30, TimeUnit.SECONDS));

    CancellationSummary summary = front.cancelBatch(batch.id());

    assertEquals(new CancellationSummary(batch.id(), 8, 2, 0), summary);
    Batch done = front.awaitCompletion(batch.id(), WAIT);
    assertTrue(done.isFinished(), done.toString());
    assertEquals(BatchStatus.CANCELLED, done.status());
    assertEquals(new Progress(10, 0, 0, 0, 0, 10), done.progress());
    assertTrue(running.stream().allMatch(JobContext::isCancelled));
  }

  @Test
  void databaseOutage_isSurvivedAndEveryJobIsAccountedFor() {
    FlakyDataSource db = new FlakyDataSource(TestDatabases.h2());
    JdbcJobStore store = JdbcJobStore.builder(db).createSchema(true).build();
    AtomicInteger succeeded = new AtomicInteger();
    BatchService service =
        start(
            BatchService.builder()
                .store(store)
                .maxConcurrency(4)
                .leaseDuration(Duration.ofSeconds(30))
                .processor(
                    "t",
                    ctx -> {
                      if (succeeded.incrementAndGet() == 50) {
                        db.down.set(true); // the database goes away in the middle of the batch
                      }
                      return "ok";
                    }));
    Batch batch =
        service.submit(BatchRequest.builder("t").items(items(200)).maxConcurrency(4).build());
    Await.until("the service hit the outage several times", () -> db.refused.get() >= 5);

    db.down.set(false);

    Batch done = service.awaitCompletion(batch.id(), WAIT);
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(new Progress(200, 0, 0, 200, 0, 0), done.progress());
  }

  /** A DataSource whose connections can be refused, as when the database is restarting. */
  private static final class FlakyDataSource implements DataSource {
    final AtomicBoolean down = new AtomicBoolean();
    final AtomicInteger refused = new AtomicInteger();
    private final DataSource delegate;

    FlakyDataSource(DataSource delegate) {
      this.delegate = delegate;
    }

    @Override
    public Connection getConnection() throws SQLException {
      if (down.get()) {
        refused.incrementAndGet();
        throw new SQLTransientConnectionException("database is down (test)", "08001");
      }
      return delegate.getConnection();
    }

    @Override
    public Connection getConnection(String user, String password) throws SQLException {
      return getConnection();
    }

    @Override
    public PrintWriter getLogWriter() {
      return null;
    }

    @Override
    public void setLogWriter(PrintWriter out) {}

    @Override
    public void setLoginTimeout(int seconds) {}

    @Override
    public int getLoginTimeout() {
      return 0;
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
      throw new SQLFeatureNotSupportedException();
    }

    @Override
    public <T> T unwrap(Class<T> type) throws SQLException {
      throw new SQLException("not a wrapper");
    }

    @Override
    public boolean isWrapperFor(Class<?> type) {
      return false;
    }
  }
}
