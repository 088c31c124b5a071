package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobProcessor;
import io.batchkit.JobStatus;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.ConcurrencyProbe;
import io.batchkit.testkit.Stores;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Three services, each with a connection pool and a store of its own as on three machines, share
 * one PostgreSQL database: the per-batch limit and the priority order hold across all of them.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MultiNodeIT {
  private static final List<String> NODES = List.of("a", "b", "c");

  /** For {@code claimAhead}: leave the setting at its default (fetch ahead by measure). */
  private static final int DEFAULT = -1;

  private final String prefix = TestDatabases.uniquePrefix();
  private HikariDataSource admin;
  private JdbcJobStore store;
  private final List<BatchService> services = new ArrayList<>();
  private final List<HikariDataSource> pools = new ArrayList<>();

  @BeforeAll
  void createTables() {
    admin = TestDatabases.postgres(4);
    store = JdbcJobStore.builder(admin).tablePrefix(prefix).createSchema(true).build();
  }

  @BeforeEach
  void emptyTables() throws Exception {
    TestDatabases.clear(admin, prefix);
  }

  @AfterEach
  void stopNodes() {
    services.forEach(BatchService::close);
    services.clear();
    pools.forEach(HikariDataSource::close);
    pools.clear();
  }

  @AfterAll
  void dropTables() throws Exception {
    if (admin != null) {
      TestDatabases.drop(admin, prefix);
      admin.close();
    }
  }

  /**
   * Without fetching ahead, with the default (fetching ahead by measure), and with each node
   * fetching 100 ahead, under a limit above the 24 slots and one below them: jobs fetched ahead
   * take no slot, so the limit bounds the jobs that run at once in every case.
   */
  @ParameterizedTest(name = "claimAhead {0} (-1: the default), batch limit {1}")
  @CsvSource({"0, 12", "100, 300", "-1, 12", "100, 10"})
  void threeNodes_runEveryJobExactlyOnce_neverMoreThanTheBatchLimitAtOnce(
      int claimAhead, int limit, TestReporter reporter) {
    int jobs = 20_000;
    ConcurrencyProbe probe = new ConcurrencyProbe();
    Map<JobId, AtomicInteger> runs = new ConcurrentHashMap<>();
    JobProcessor counted =
        ctx -> {
          probe.enter(ctx);
          try {
            runs.computeIfAbsent(ctx.jobId(), k -> new AtomicInteger()).incrementAndGet();
            Thread.sleep(2); // the job's work: long enough for jobs to overlap
            return null;
          } finally {
            probe.exit(ctx);
          }
        };
    List<BatchService> nodes = new ArrayList<>();
    for (String node : NODES) {
      nodes.add(node(node, 8, claimAhead, "counted", counted, Duration.ofSeconds(30)));
    }
    List<String> payloads = new ArrayList<>(jobs);
    for (int i = 0; i < jobs; i++) {
      payloads.add(Integer.toString(i));
    }

    Batch batch =
        nodes
            .get(0)
            .submit(BatchRequest.builder("counted").items(payloads).maxConcurrency(limit).build());
    Batch done = nodes.get(1).awaitCompletion(batch.id(), Duration.ofMinutes(10));

    assertTrue(done.isFinished(), "the batch did not finish: " + done);
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress());
    List<Job> stored = allJobs(batch.id());
    assertEquals(jobs, stored.size());
    Set<JobId> ids = stored.stream().map(Job::id).collect(Collectors.toSet());
    assertEquals(ids, runs.keySet(), "the jobs that ran are the batch's jobs");
    Map<JobId, Integer> repeated = new TreeMap<>();
    runs.forEach(
        (id, count) -> {
          if (count.get() != 1) {
            repeated.put(id, count.get());
          }
        });
    assertEquals(Map.of(), repeated, "jobs that ran more than once");
    assertEquals(0, probe.overlaps(), "a job ran twice at the same time");
    assertTrue(
        probe.peak(batch.id()) <= limit,
        "at most " + limit + " jobs of the batch ran at once, saw " + probe.peak(batch.id()));
    List<Job> unexpected =
        stored.stream()
            .filter(
                j ->
                    j.status() != JobStatus.SUCCEEDED
                        || j.attempt() != 1
                        || j.nodeId().isEmpty()
                        || !NODES.contains(j.nodeId().get()))
            .limit(10)
            .toList();
    assertEquals(List.of(), unexpected, "jobs that did not succeed at once on a known node");
    Map<String, Long> perNode =
        stored.stream()
            .collect(
                Collectors.groupingBy(
                    j -> j.nodeId().orElseThrow(), TreeMap::new, Collectors.counting()));
    assertTrue(perNode.size() > 1, "more than one node did work: " + perNode);
    reporter.publishEntry("jobs per node", perNode.toString());
    reporter.publishEntry("peak of the batch", Integer.toString(probe.peak(batch.id())));
  }

  /**
   * Every node runs one job at a time, and each job waits for a permit from the test, so the test
   * lets exactly one job end at a time: only that job's node has a free slot, so claims happen one
   * after another and their order is the store's dispatch order, nothing else. Blockers fill all
   * three slots while a LOW batch and then an URGENT batch are started; from then on every URGENT
   * job starts, in order, before any LOW job.
   */
  @Test
  void threeNodes_startEveryUrgentJobBeforeAnyLowJob() {
    int perBatch = 12;
    List<String> starts = Collections.synchronizedList(new ArrayList<>());
    Semaphore permits = new Semaphore(0);
    JobProcessor gated =
        ctx -> {
          starts.add(ctx.payload());
          if (!permits.tryAcquire(2, TimeUnit.MINUTES)) {
            throw new IllegalStateException("the test never let " + ctx.payload() + " end");
          }
          return null;
        };
    // ageing far beyond the test's length, so that waiting never lifts LOW over URGENT
    List<BatchService> nodes = new ArrayList<>();
    for (String node : NODES) {
      // nothing fetched ahead: the test lets one job end per start, so every queued job must be
      // free for any node to start (a job fetched ahead waits for its own node's slot)
      nodes.add(node(node, 1, 0, "gated", gated, Duration.ofHours(1)));
    }
    Batch blockers =
        nodes.get(0).submit(request(Priority.NORMAL, "B", NODES.size(), NODES.size() * 4));
    Await.until(
        "every node runs a blocker", Duration.ofMinutes(1), () -> starts.size() == NODES.size());
    Set<Optional<String>> owners = new HashSet<>();
    allJobs(blockers.id()).forEach(j -> owners.add(j.nodeId()));
    assertEquals(NODES.size(), owners.size(), "one blocker per node: " + owners);

    // a batch limit well above the slots, so that a finished job whose outcome is not yet written
    // (it still counts as running) never keeps the URGENT batch at its limit
    Batch low = nodes.get(0).submit(request(Priority.LOW, "L", perBatch, NODES.size() * 4));
    Batch urgent = nodes.get(1).submit(request(Priority.URGENT, "U", perBatch, NODES.size() * 4));
    for (int step = 1; step <= 2 * perBatch; step++) {
      int expected = NODES.size() + step;
      permits.release();
      Await.until(
          "job " + expected + " started", Duration.ofMinutes(1), () -> starts.size() >= expected);
    }
    permits.release(NODES.size());

    for (Batch batch : List.of(blockers, low, urgent)) {
      Batch done = nodes.get(2).awaitCompletion(batch.id(), Duration.ofMinutes(2));
      assertEquals(BatchStatus.COMPLETED, done.status(), "batch " + done);
    }
    List<String> expectedOrder = new ArrayList<>();
    for (String name : List.of("U", "L")) {
      for (int i = 0; i < perBatch; i++) {
        expectedOrder.add(String.format("%s%02d", name, i));
      }
    }
    List<String> started = List.copyOf(starts);
    assertEquals(
        expectedOrder,
        started.subList(NODES.size(), started.size()),
        "start order after the blockers: " + started);
  }

  /**
   * The same order while the nodes compete: the blockers end together and the jobs run freely, so
   * the three nodes claim and complete at the same time. Claims still follow the dispatch order, so
   * a LOW job can only start before the last URGENT one while that URGENT job is claimed but its
   * processor has not yet recorded its start: a few at most, bounded here by the number of nodes.
   * With the default settings, so nodes fetch ahead once a batch is the only one with queued jobs.
   */
  @Test
  void threeNodes_competingForWork_startEveryUrgentJobBeforeAnyLowJob() {
    int perBatch = 100;
    List<String> starts = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch blockersEnd = new CountDownLatch(1);
    JobProcessor work =
        ctx -> {
          starts.add(ctx.payload());
          if (ctx.payload().startsWith("B")) {
            if (!blockersEnd.await(2, TimeUnit.MINUTES)) {
              throw new IllegalStateException("the test never let the blockers end");
            }
          } else {
            Thread.sleep(2); // the job's work
          }
          return null;
        };
    List<BatchService> nodes = new ArrayList<>();
    for (String node : NODES) {
      nodes.add(node(node, 1, DEFAULT, "gated", work, Duration.ofHours(1)));
    }
    Batch blockers = nodes.get(0).submit(request(Priority.NORMAL, "B", NODES.size(), 12));
    Await.until(
        "every node runs a blocker", Duration.ofMinutes(1), () -> starts.size() == NODES.size());
    Batch low = nodes.get(0).submit(request(Priority.LOW, "L", perBatch, 12));
    Batch urgent = nodes.get(1).submit(request(Priority.URGENT, "U", perBatch, 12));

    blockersEnd.countDown();

    for (Batch batch : List.of(blockers, low, urgent)) {
      Batch done = nodes.get(2).awaitCompletion(batch.id(), Duration.ofMinutes(2));
      assertEquals(BatchStatus.COMPLETED, done.status(), "batch " + done);
    }
    List<String> started = List.copyOf(starts);
    assertEquals(NODES.size() + 2 * perBatch, started.size(), "every job started once");
    int lastUrgent = 0;
    for (int i = 0; i < started.size(); i++) {
      if (started.get(i).startsWith("U")) {
        lastUrgent = i;
      }
    }
    List<String> lowFirst =
        started.subList(0, lastUrgent).stream().filter(p -> p.startsWith("L")).toList();
    assertTrue(
        lowFirst.size() <= NODES.size(),
        lowFirst.size()
            + " LOW jobs started before the last URGENT one: "
            + lowFirst
            + "; start order: "
            + started);
  }

  /**
   * A rate limit the store holds: 20 starts a second over 3 nodes of 4 slots each (a node-local
   * limit would let 60 through). In every one-second window of the 60 starts, at most 20 plus the
   * bucket's 2, plus 2 for the time between a claim and its job's start.
   */
  @Test
  void threeNodes_sharedRateLimit_holdsOverAllNodes() {
    int permits = 20;
    int jobs = 60;
    List<Long> starts = Collections.synchronizedList(new ArrayList<>());
    List<BatchService> nodes = new ArrayList<>();
    for (String nodeId : NODES) {
      HikariDataSource pool = TestDatabases.postgres(10);
      pools.add(pool);
      BatchService service =
          BatchService.builder()
              .store(JdbcJobStore.builder(pool).tablePrefix(prefix).build())
              .discoverProcessors(false)
              .nodeId(nodeId)
              .maxConcurrency(4)
              .pollInterval(Duration.ofMillis(100))
              .sharedRateLimit("limited", permits, Duration.ofSeconds(1))
              .processor(
                  "limited",
                  ctx -> {
                    starts.add(System.nanoTime());
                    return null;
                  })
              .build();
      services.add(service);
      nodes.add(service);
    }
    BatchRequest.Builder request = BatchRequest.builder("limited").maxConcurrency(12);
    for (int i = 0; i < jobs; i++) {
      request.item("r" + i);
    }
    Batch batch = nodes.get(0).submit(request.build());

    Batch done = nodes.get(2).awaitCompletion(batch.id(), Duration.ofMinutes(2));

    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(jobs, starts.size());
    List<Long> sorted = new ArrayList<>(starts);
    Collections.sort(sorted);
    long second = TimeUnit.SECONDS.toNanos(1);
    int most = 0;
    for (int i = 0; i < sorted.size(); i++) {
      int inWindow = 0;
      for (int j = i; j < sorted.size() && sorted.get(j) - sorted.get(i) < second; j++) {
        inWindow++;
      }
      most = Math.max(most, inWindow);
    }
    assertTrue(most <= permits + 2 + 2, "starts in one second: " + most);
  }

  private static BatchRequest request(
      Priority priority, String name, int jobs, int maxConcurrency) {
    BatchRequest.Builder request =
        BatchRequest.builder("gated").name(name).priority(priority).maxConcurrency(maxConcurrency);
    for (int i = 0; i < jobs; i++) {
      request.item(String.format("%s%02d", name, i));
    }
    return request.build();
  }

  /**
   * Starts a service with a pool and a store of its own; {@code claimAhead} {@link #DEFAULT} leaves
   * that setting alone.
   */
  private BatchService node(
      String nodeId,
      int maxConcurrency,
      int claimAhead,
      String jobType,
      JobProcessor processor,
      Duration aging) {
    HikariDataSource pool = TestDatabases.postgres(10);
    pools.add(pool);
    BatchService.Builder builder =
        BatchService.builder()
            .store(JdbcJobStore.builder(pool).tablePrefix(prefix).build())
            .discoverProcessors(false)
            .nodeId(nodeId)
            .maxConcurrency(maxConcurrency)
            .pollInterval(Duration.ofMillis(100))
            .priorityAging(aging)
            .shutdownGracePeriod(Duration.ofSeconds(5))
            .processor(jobType, processor);
    if (claimAhead != DEFAULT) {
      builder.claimAhead(claimAhead);
    }
    BatchService service = builder.build();
    services.add(service);
    return service;
  }

  private List<Job> allJobs(BatchId id) {
    return Stores.allJobs(store, id);
  }
}
