package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchQuery;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import io.batchkit.jdbc.RestartChild.Execution;
import io.batchkit.testkit.Stores;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Crash loop: one node runs a PostgreSQL-backed batch of {@value CrashLoopChild#JOBS} jobs in a JVM
 * of its own ({@link CrashLoopChild}) and is killed with {@code destroyForcibly()} (SIGKILL)
 * {@value #KILLS} times at random moments, and started again each time; the restarted node picks up
 * the same batch through its idempotency key. After the last kill the node is left to finish. Every
 * run of a job is recorded in an execution table (job id, attempt, node, start, end, and the lease
 * the job held when the run started).
 *
 * <p>The moments: before each life the test draws a progress target (a number of succeeded jobs,
 * increasing from life to life, below 85% of the batch so that every kill hits a running batch);
 * once the batch reached it and this life finished a job of its own, the test waits a random 0 to
 * {@value #MAX_KILL_DELAY_MS} ms and kills. The seed is logged and reported; rerun a failure with
 * {@code -Dbatchkit.test.seed=<seed>}.
 *
 * <p><b>Overlap.</b> Two runs of one job overlap if their time intervals intersect. A run that
 * ended lasts from its start to its recorded end. A run without an end (its JVM was killed while it
 * ran) lasts from its start until the instant the test saw its JVM dead, after which none of its
 * code can run. (The store hands a killed node's jobs over as soon as it knows the node is dead,
 * before their lease runs out: its database session ended, or a node started with its id; see
 * {@link NodeLivenessIT}. So the lease no longer bounds the handover; the death does.) A run that
 * started before its predecessor's JVM was dead is an overlap; all times are milliseconds of the
 * one machine clock every JVM of the test reads, and a run may start in the very millisecond the
 * previous one ends.
 */
@Tag("fault")
@Timeout(value = 15, unit = TimeUnit.MINUTES)
class CrashLoopIT {
  private static final int KILLS = 10;
  private static final int MAX_KILL_DELAY_MS = 400;
  private static final Duration CHILD_START = Duration.ofMinutes(2);
  private static final Duration LIFE = Duration.ofMinutes(3);
  private static final Duration FINISH = Duration.ofMinutes(5);

  private final String prefix = TestDatabases.uniquePrefix();
  private HikariDataSource dataSource;
  private JdbcJobStore store;
  private ChildJvm child;
  private int claimAhead;

  @BeforeEach
  void createTables() throws Exception {
    dataSource = TestDatabases.postgres(4);
    store = JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
    RestartChild.createExecutionTable(dataSource, prefix);
  }

  @AfterEach
  void cleanUp() throws Exception {
    try {
      if (child != null) {
        child.close();
      }
    } finally {
      if (dataSource != null) {
        TestDatabases.drop(dataSource, prefix);
        RestartChild.dropExecutionTable(dataSource, prefix);
        dataSource.close();
      }
    }
  }

  /** One kill: which life, when, and what the batch looked like just after it. */
  private record Kill(int life, long delayMs, long target, Progress afterKill) {}

  /**
   * Also with {@code claimAhead}: then each life also holds up to 40 jobs it claimed and has not
   * started when it is killed; they must come back like the running ones.
   */
  @ParameterizedTest(name = "claimAhead {0}")
  @ValueSource(ints = {0, 40})
  void nodeKilledTenTimes_losesNoJob_andNoTwoRunsOfAJobOverlap(
      int claimAhead, TestReporter reporter) throws Exception {
    this.claimAhead = claimAhead;
    long seed = Long.getLong("batchkit.test.seed", System.nanoTime());
    reporter.publishEntry("seed", Long.toString(seed));
    Random random = new Random(seed);
    long startNanos = System.nanoTime();
    int jobs = CrashLoopChild.JOBS;
    TreeSet<Integer> drawn = new TreeSet<>();
    while (drawn.size() < KILLS) {
      drawn.add(jobs / 20 + random.nextInt(jobs * 85 / 100 - jobs / 20));
    }
    List<Integer> targets = new ArrayList<>(drawn);

    Map<String, Long> deadAt = new HashMap<>();
    List<Kill> kills = new ArrayList<>();
    BatchId id = null;
    for (int life = 1; life <= KILLS; life++) {
      String node = "life-" + life;
      BatchId got = startLife(node);
      if (id == null) {
        id = got;
      } else {
        assertEquals(id, got, node + " picked up the batch of the first life, not a new one");
      }
      BatchId batchId = id;
      long before = batch(batchId).progress().succeeded();
      long target = targets.get(life - 1);
      child.awaitUntil(
          node + " finished a job of its own and the batch reached " + target + " succeeded",
          LIFE,
          () -> {
            long succeeded = batch(batchId).progress().succeeded();
            return succeeded > before && succeeded >= target;
          });
      long delay = random.nextInt(MAX_KILL_DELAY_MS);
      Thread.sleep(delay); // the random moment of the kill: fault timing, not synchronisation
      deadAt.put(node, child.kill());
      Batch afterKill = batch(batchId);
      assertFalse(afterKill.isFinished(), "the batch was still running at kill " + life);
      kills.add(new Kill(life, delay, target, afterKill.progress()));
      child.close();
      child = null;
    }

    String last = "life-" + (KILLS + 1);
    assertEquals(id, startLife(last), last + " picked up the batch of the first life");
    BatchId batchId = id;
    child.awaitUntil("the batch finished", FINISH, () -> batch(batchId).isFinished());
    assertEquals(0, child.stop(Duration.ofMinutes(1)), "exit code of the last life");
    deadAt.put(last, System.currentTimeMillis());
    long millis = Duration.ofNanos(System.nanoTime() - startNanos).toMillis();

    // the batch and its jobs
    Batch done = batch(id);
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress());
    List<Job> stored = Stores.allJobs(store, id);
    assertEquals(jobs, stored.size(), "jobs of the batch");
    Map<String, Job> byId = new HashMap<>();
    stored.forEach(j -> byId.put(j.id().toString(), j));
    assertEquals(jobs, byId.size(), "distinct job ids");
    assertEquals(
        IntStream.range(0, jobs).mapToObj(CrashLoopChild::payload).collect(Collectors.toSet()),
        stored.stream().map(Job::payload).collect(Collectors.toSet()),
        "every item of the batch has its job");
    List<Job> notSucceeded =
        stored.stream().filter(j -> j.status() != JobStatus.SUCCEEDED).limit(10).toList();
    assertEquals(List.of(), notSucceeded, "jobs that did not succeed");
    assertEquals(1, store.listBatches(BatchQuery.all()).items().size(), "batches");

    // the runs
    List<Execution> executions = RestartChild.executions(dataSource, prefix);
    Map<String, List<Execution>> runs =
        executions.stream().collect(Collectors.groupingBy(Execution::jobId));
    assertEquals(
        List.of(),
        runs.keySet().stream().filter(j -> !byId.containsKey(j)).limit(10).toList(),
        "runs of jobs that are not in the batch");
    List<String> lost = new ArrayList<>();
    List<String> sameAttemptTwice = new ArrayList<>();
    List<String> overlaps = new ArrayList<>();
    for (Job job : stored) {
      List<Execution> jobRuns = runs.getOrDefault(job.id().toString(), List.of());
      // the run whose outcome the store recorded: same node, same attempt, and it ended
      boolean recordedRunEnded =
          jobRuns.stream()
              .anyMatch(
                  r ->
                      r.ended()
                          && r.attempt() == job.attempt()
                          && job.nodeId().isPresent()
                          && r.node().equals(job.nodeId().get()));
      if (!recordedRunEnded) {
        lost.add(job.id() + " " + job + " runs " + jobRuns);
      }
      Set<Integer> attempts = new HashSet<>();
      for (Execution run : jobRuns) {
        if (!attempts.add(run.attempt())) {
          sameAttemptTwice.add(job.id() + ": " + jobRuns);
        }
      }
      overlaps.addAll(overlapsOf(job.id().toString(), jobRuns, deadAt));
    }
    assertEquals(List.of(), lost.stream().limit(10).toList(), "jobs without a run that ended");
    assertEquals(
        List.of(), sameAttemptTwice.stream().limit(10).toList(), "two runs under one claim");
    assertEquals(List.of(), overlaps.stream().limit(10).toList(), "runs of one job that overlap");

    long unended = executions.stream().filter(r -> !r.ended()).count();
    long ranTwiceOrMore = runs.values().stream().filter(r -> r.size() > 1).count();
    int maxAttempt = stored.stream().mapToInt(Job::attempt).max().orElse(0);
    Map<String, String> figures = new LinkedHashMap<>();
    figures.put("seed", Long.toString(seed));
    figures.put("claimAhead", Integer.toString(claimAhead));
    figures.put("jobs", Integer.toString(jobs));
    figures.put("kills", Integer.toString(kills.size()));
    figures.put("lives", Integer.toString(KILLS + 1));
    figures.put("executions", Integer.toString(executions.size()));
    figures.put("re-executions (duplicates)", Integer.toString(executions.size() - jobs));
    figures.put("jobs run more than once", Long.toString(ranTwiceOrMore));
    figures.put("runs killed mid-run (no end)", Long.toString(unended));
    figures.put("highest attempt", Integer.toString(maxAttempt));
    figures.put("lost", Integer.toString(lost.size()));
    figures.put("overlaps", Integer.toString(overlaps.size()));
    figures.put("duration ms", Long.toString(millis));
    reporter.publishEntry(figures);
    reporter.publishEntry(
        "kills",
        kills.stream()
            .map(
                k ->
                    "life "
                        + k.life()
                        + ": target "
                        + k.target()
                        + ", delay "
                        + k.delayMs()
                        + " ms, after: "
                        + k.afterKill())
            .collect(Collectors.joining("; ")));
    System.out.println("CrashLoopIT figures: " + figures);
    kills.forEach(k -> System.out.println("CrashLoopIT kill: " + k));
  }

  /**
   * Returns a description of each run of a job that started before an earlier run of the job had
   * ended, with "ended" as the class Javadoc defines it.
   */
  private static List<String> overlapsOf(
      String jobId, List<Execution> jobRuns, Map<String, Long> deadAt) {
    List<Execution> sorted = new ArrayList<>(jobRuns);
    sorted.sort(Comparator.comparingLong(Execution::startedMs));
    List<String> found = new ArrayList<>();
    Execution latest = null;
    long latestEnd = Long.MIN_VALUE;
    for (Execution run : sorted) {
      if (latest != null && run.startedMs() < latestEnd) {
        found.add("job " + jobId + ": " + run + " started before the end of " + latest);
      }
      long end = endOf(run, deadAt);
      if (end > latestEnd) {
        latestEnd = end;
        latest = run;
      }
    }
    return found;
  }

  private static long endOf(Execution run, Map<String, Long> deadAt) {
    if (run.ended()) {
      return run.endedMs();
    }
    Long death = deadAt.get(run.node());
    if (death == null) {
      throw new AssertionError("a run without an end on a node that never ended: " + run);
    }
    if (run.leaseUntilMs() == null) {
      throw new AssertionError("a run whose job held no lease when it started: " + run);
    }
    return death;
  }

  /** Starts a life of the node and returns the id of the batch it submitted. */
  private BatchId startLife(String node) throws Exception {
    child =
        ChildJvm.start(
            CrashLoopChild.class,
            List.of(),
            dataSource.getJdbcUrl(),
            prefix,
            node,
            Integer.toString(claimAhead));
    return BatchId.parse(child.awaitLine(CrashLoopChild.BATCH_LINE, CHILD_START));
  }

  private Batch batch(BatchId id) {
    return store.findBatch(id).orElseThrow(() -> new AssertionError("batch " + id + " is missing"));
  }
}
