package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobStatus;
import io.batchkit.Node;
import io.batchkit.testkit.Stores;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Node liveness with real processes ({@link LivenessChild} in JVMs of their own):
 *
 * <ul>
 *   <li>a node killed with {@code destroyForcibly()} while it holds every slot of a batch, with a
 *       lease of ten minutes, has its jobs taken over by a surviving node within a minute, which
 *       only its ended database session can explain, and the registry marks it dead; the time from
 *       the kill to its jobs' return is reported (PostgreSQL and MariaDB);
 *   <li>a node frozen with {@code SIGSTOP} for several times its lease keeps its jobs, and once
 *       thawed ends them itself: no job runs twice (PostgreSQL and MariaDB);
 *   <li>on H2, which has no session signal, a process that starts with the id of a killed one
 *       releases its former self's ten-minute leases at once.
 * </ul>
 */
@Tag("fault")
class NodeLivenessIT {
  private static final Duration CHILD_START = Duration.ofMinutes(2);
  private static final Duration LONG_LEASE = Duration.ofMinutes(10);
  private static final String DOOMED = "doomed";
  private static final String SURVIVOR = "survivor";

  private final String prefix = TestDatabases.uniquePrefix();
  private HikariDataSource dataSource;
  private ChildJvm child;
  private BatchService service;
  private Path h2Dir;

  @AfterEach
  void cleanUp() throws Exception {
    try {
      if (child != null) {
        child.close();
      }
      if (service != null) {
        service.close();
      }
    } finally {
      if (dataSource != null) {
        if (h2Dir == null) {
          TestDatabases.drop(dataSource, prefix);
        }
        dataSource.close();
      }
      if (h2Dir != null) {
        try (var files = Files.walk(h2Dir)) {
          files.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
        }
      }
    }
  }

  @ParameterizedTest(name = "on {0}")
  @ValueSource(strings = {"postgresql", "mariadb"})
  void killedNode_itsJobsComeBackWithinSeconds_notAfterItsTenMinuteLease(
      String database, TestReporter reporter) throws Exception {
    JdbcJobStore store = open(database);
    child = startChild(DOOMED, LONG_LEASE, Duration.ofMillis(300), 60);
    BatchId id = BatchId.parse(child.awaitLine(LivenessChild.BATCH, CHILD_START));
    child.awaitUntil(
        "the child runs every slot of its batch",
        CHILD_START,
        () -> running(store, id, DOOMED).size() == LivenessChild.SLOTS);
    assertTrue(live(store, DOOMED), "the registry lists the child live: " + store.listNodes());
    service = survivor(store, Duration.ofSeconds(30));
    child.signal("STOP"); // so that what it holds stays put until the kill
    Set<JobId> heldAtKill = settled(store, id).keySet();

    long killedAt = child.kill();
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
    while (!running(store, id, DOOMED).isEmpty()) {
      assertTrue(
          System.nanoTime() < deadline,
          "the killed node's jobs are still leased to it a minute after the kill");
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
    }
    long recoveredMillis = System.currentTimeMillis() - killedAt;
    reporter.publishEntry("recovery on " + database + " (ms)", Long.toString(recoveredMillis));
    System.out.println("node liveness: jobs back " + recoveredMillis + " ms after the kill");

    Batch done = service.awaitCompletion(id, Duration.ofMinutes(3));
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    Map<JobId, Job> jobs = byId(Stores.allJobs(store, id));
    for (JobId held : heldAtKill) {
      Job job = jobs.get(held);
      assertEquals(2, job.attempt(), "job " + held + ", running at the kill, ran once more");
      assertEquals(Optional.of(SURVIVOR), job.result(), "job " + held + " ended on the survivor");
    }
    Node doomed = node(store, DOOMED);
    assertEquals(Node.Status.DEAD, doomed.status(), "the registry: " + store.listNodes());
  }

  @ParameterizedTest(name = "on {0}")
  @ValueSource(strings = {"postgresql", "mariadb"})
  void frozenNode_keepsItsJobsPastItsLease_andEndsThemOnceThawed(String database) throws Exception {
    JdbcJobStore store = open(database);
    Duration lease = Duration.ofSeconds(2);
    child = startChild(DOOMED, lease, Duration.ofSeconds(1), 8);
    BatchId id = BatchId.parse(child.awaitLine(LivenessChild.BATCH, CHILD_START));
    child.awaitUntil(
        "the child runs every slot of its batch",
        CHILD_START,
        () -> running(store, id, DOOMED).size() == LivenessChild.SLOTS);
    // a survivor that sweeps expired leases every half second
    service = survivor(store, Duration.ofSeconds(1));
    child.signal("STOP");
    try {
      Map<JobId, Job> frozen = settled(store, id);
      // four leases long, the survivor's sweeps and liveness checks run many times
      long thaw = System.nanoTime() + lease.multipliedBy(4).toNanos();
      while (System.nanoTime() < thaw) {
        Map<JobId, Job> now = running(store, id, DOOMED);
        assertEquals(frozen.keySet(), now.keySet(), "the frozen node keeps its jobs");
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
      }
      assertTrue(live(store, DOOMED), "a frozen node is alive: " + store.listNodes());
      child.signal("CONT");

      Batch done = service.awaitCompletion(id, Duration.ofMinutes(3));
      assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
      Map<JobId, Job> jobs = byId(Stores.allJobs(store, id));
      for (JobId held : frozen.keySet()) {
        assertEquals(
            Optional.of(DOOMED), jobs.get(held).result(), "job " + held + " ended on its node");
      }
      for (Job job : jobs.values()) {
        assertEquals(1, job.attempt(), "job " + job.id() + " was claimed once: " + job);
      }
    } finally {
      if (child.isAlive()) {
        child.signal("CONT");
      }
    }
  }

  @Test
  void onH2_aProcessWithTheIdOfAKilledOne_releasesItsFormerLeasesAtOnce() throws Exception {
    h2Dir = Files.createTempDirectory("batchkit-liveness-h2");
    // FILE_LOCK=FS: the operating system's file lock, released the moment the process dies;
    // WRITE_DELAY=0: each commit reaches the file at once, so the kill loses none
    String url = "jdbc:h2:file:" + h2Dir.resolve("db") + ";FILE_LOCK=FS;WRITE_DELAY=0";
    child = startChild(url, "same", LONG_LEASE, Duration.ofMinutes(5), 6);
    BatchId id = BatchId.parse(child.awaitLine(LivenessChild.BATCH, CHILD_START));
    child.awaitUntil(
        "the child runs every slot of its batch",
        CHILD_START,
        () -> child.lines(LivenessChild.STARTED).size() == LivenessChild.SLOTS);
    Set<String> heldAtKill = Set.copyOf(child.lines(LivenessChild.STARTED));
    child.kill();

    dataSource = pool(url);
    JdbcJobStore store = JdbcJobStore.builder(dataSource).tablePrefix(prefix).build();
    Map<JobId, Job> before = byId(Stores.allJobs(store, id));
    for (String held : heldAtKill) {
      Job job = before.get(JobId.parse(held));
      assertEquals(JobStatus.PROCESSING, job.status(), "job " + held + " is still leased");
    }
    // the same id, the same ten-minute lease: only the restart can free the jobs in time
    service = node(store, "same", LONG_LEASE, Duration.ofMillis(50));
    Batch done = service.awaitCompletion(id, Duration.ofMinutes(1));

    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    Map<JobId, Job> after = byId(Stores.allJobs(store, id));
    for (String held : heldAtKill) {
      Job job = after.get(JobId.parse(held));
      assertEquals(JobStatus.SUCCEEDED, job.status(), "job " + held);
      assertEquals(2, job.attempt(), "job " + held + " ran again after the restart: " + job);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  private JdbcJobStore open(String database) {
    Supplier<HikariDataSource> open =
        database.equals("postgresql")
            ? () -> TestDatabases.postgres(8)
            : () -> TestDatabases.mariadb(8);
    dataSource = open.get();
    return JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
  }

  private ChildJvm startChild(String node, Duration lease, Duration work, int jobs)
      throws IOException {
    return startChild(dataSource.getJdbcUrl(), node, lease, work, jobs);
  }

  private ChildJvm startChild(String url, String node, Duration lease, Duration work, int jobs)
      throws IOException {
    return ChildJvm.start(
        LivenessChild.class,
        List.of(),
        url,
        prefix,
        node,
        Long.toString(lease.toMillis()),
        Long.toString(work.toMillis()),
        Integer.toString(jobs));
  }

  private BatchService survivor(JdbcJobStore store, Duration lease) {
    return node(store, SURVIVOR, lease, Duration.ofMillis(50));
  }

  private static BatchService node(
      JdbcJobStore store, String nodeId, Duration lease, Duration work) {
    return BatchService.builder()
        .store(store)
        .discoverProcessors(false)
        .nodeId(nodeId)
        .maxConcurrency(LivenessChild.SLOTS)
        .leaseDuration(lease)
        .pollInterval(Duration.ofMillis(100))
        .maxPollInterval(Duration.ofMillis(500))
        .processor(
            LivenessChild.JOB_TYPE,
            ctx -> {
              Thread.sleep(work.toMillis()); // the job's work
              return nodeId;
            })
        .build();
  }

  private static HikariDataSource pool(String url) {
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(url);
    config.setMaximumPoolSize(8);
    return new HikariDataSource(config);
  }

  /**
   * The jobs of a batch leased to {@link #DOOMED}, once two reads 300 ms apart agree: a frozen
   * process may have had a commit on its way.
   */
  private static Map<JobId, Job> settled(JdbcJobStore store, BatchId id) {
    Map<JobId, Job> last = running(store, id, DOOMED);
    while (true) {
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(300));
      Map<JobId, Job> now = running(store, id, DOOMED);
      if (now.keySet().equals(last.keySet())) {
        return now;
      }
      last = now;
    }
  }

  /** The jobs of a batch leased to {@code nodeId}, by id. */
  private static Map<JobId, Job> running(JdbcJobStore store, BatchId id, String nodeId) {
    return Stores.allJobs(store, id).stream()
        .filter(j -> j.status() == JobStatus.PROCESSING && j.nodeId().equals(Optional.of(nodeId)))
        .collect(Collectors.toMap(Job::id, j -> j));
  }

  private static Map<JobId, Job> byId(List<Job> jobs) {
    Map<JobId, Job> all = new HashMap<>();
    jobs.forEach(j -> all.put(j.id(), j));
    return all;
  }

  private static Node node(JdbcJobStore store, String nodeId) {
    return store.listNodes().stream()
        .filter(n -> n.nodeId().equals(nodeId))
        .findFirst()
        .orElseThrow(() -> new AssertionError(nodeId + " is not in " + store.listNodes()));
  }

  private static boolean live(JdbcJobStore store, String nodeId) {
    return node(store, nodeId).isLive();
  }
}
