package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import io.batchkit.testkit.Stores;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;

/**
 * Database outage: while a node ({@link OutageChild}, in a JVM of its own) runs a batch of {@value
 * OutageChild#JOBS} jobs on PostgreSQL, the test cuts every database session of that node with
 * {@code pg_terminate_backend}, {@value #OUTAGES} times. The node's sessions carry an {@code
 * ApplicationName} of their own, so the test finds them in {@code pg_stat_activity} and cuts
 * nothing else. Cut {@code i} happens once the batch passed {@code i / (OUTAGES + 2)} of its jobs,
 * the node has sessions again and a random 0 to {@value #MAX_CUT_DELAY_MS} ms has passed (seed
 * logged; rerun with {@code -Dbatchkit.test.seed=<seed>}); the next cut waits until the node made
 * progress after this one, so that each cut is an outage of its own.
 *
 * <p>The batch must finish with every job accounted for, and the node must report the outages at
 * WARN, once per episode and without stack traces: the test reads the node's whole log (its stderr,
 * slf4j-simple at INFO) and checks the lines of batchkit's own loggers. The connection pool's own
 * lines (HikariCP logs a broken connection at WARN with its stack trace) are counted and reported,
 * not judged: they are the pool's, configured by the user. A WARN line must not carry a job's
 * payload or result either (STYLE.md: never log a payload above DEBUG).
 */
@Tag("fault")
@Timeout(value = 10, unit = TimeUnit.MINUTES)
class OutageIT {
  private static final int OUTAGES = 8;
  private static final int MAX_CUT_DELAY_MS = 300;

  /**
   * The most WARN lines of batchkit's loggers per cut. One cut ends one episode in each of the two
   * places that talk to the database on their own: the dispatcher ("job store failed" and
   * "reachable again") and the LISTEN thread ("lost the LISTEN connection" and "listening again");
   * a cut can break several pooled connections that the dispatcher then meets one after another, so
   * allow it a few episodes.
   */
  private static final int WARNS_PER_OUTAGE = 8;

  private static final Pattern ENTRY = Pattern.compile("^(TRACE|DEBUG|INFO|WARN|ERROR) (\\S+) - ");

  /** Lines before the class name: slf4j-simple without thread name or time, so they parse. */
  private static final List<String> LOG_OPTIONS =
      List.of(
          "-Dorg.slf4j.simpleLogger.defaultLogLevel=info",
          "-Dorg.slf4j.simpleLogger.log.io.batchkit=info",
          "-Dorg.slf4j.simpleLogger.showDateTime=false",
          "-Dorg.slf4j.simpleLogger.showThreadName=false",
          "-Dorg.slf4j.simpleLogger.levelInBrackets=false");

  private final String prefix = TestDatabases.uniquePrefix();
  private final String applicationName = prefix + "outage";
  private HikariDataSource dataSource;
  private JdbcJobStore store;
  private ChildJvm child;

  @BeforeEach
  void createTables() {
    dataSource = TestDatabases.postgres(4);
    store = JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
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
        dataSource.close();
      }
    }
  }

  @Test
  void connectionsCutRepeatedly_batchFinishesExactly_andEachOutageIsOneWarnWithoutStackTrace(
      TestReporter reporter) throws Exception {
    long seed = Long.getLong("batchkit.test.seed", System.nanoTime());
    reporter.publishEntry("seed", Long.toString(seed));
    Random random = new Random(seed);
    long startNanos = System.nanoTime();
    int jobs = OutageChild.JOBS;
    String url =
        dataSource.getJdbcUrl()
            + (dataSource.getJdbcUrl().contains("?") ? "&" : "?")
            + "ApplicationName="
            + applicationName;
    child = ChildJvm.start(OutageChild.class, LOG_OPTIONS, url, prefix, "outage-node");
    BatchId id = BatchId.parse(child.awaitLine(OutageChild.BATCH_LINE, Duration.ofMinutes(2)));

    List<Integer> cut = new ArrayList<>();
    for (int i = 1; i <= OUTAGES; i++) {
      long target = (long) jobs * i / (OUTAGES + 2);
      child.awaitUntil(
          "the batch passed " + target + " jobs and the node has sessions",
          Duration.ofMinutes(2),
          () -> succeeded(id) >= target && sessions() > 0);
      Thread.sleep(random.nextInt(MAX_CUT_DELAY_MS)); // the moment of the cut: fault timing
      long atCut = succeeded(id);
      int terminated = terminateSessions();
      assertTrue(terminated > 0, "cut " + i + " found sessions of the node to terminate");
      cut.add(terminated);
      Batch now = batch(id);
      assertFalse(now.isFinished(), "the batch still ran at cut " + i + ": " + now);
      child.awaitUntil(
          "the node made progress after cut " + i,
          Duration.ofMinutes(2),
          () -> succeeded(id) > atCut);
    }
    child.awaitUntil("the batch finished", Duration.ofMinutes(5), () -> batch(id).isFinished());
    assertEquals(0, child.stop(Duration.ofMinutes(1)), "exit code of the node");
    long millis = Duration.ofNanos(System.nanoTime() - startNanos).toMillis();
    int runs = Integer.parseInt(child.awaitLine(OutageChild.RUNS_LINE, Duration.ofSeconds(30)));
    int repeated =
        Integer.parseInt(child.awaitLine(OutageChild.REPEATED_LINE, Duration.ofSeconds(30)));

    // every job accounted for
    Batch done = batch(id);
    assertEquals(BatchStatus.COMPLETED, done.status(), done.toString());
    assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress());
    List<Job> stored = Stores.allJobs(store, id);
    assertEquals(jobs, stored.size());
    assertEquals(jobs, stored.stream().map(Job::id).distinct().count(), "distinct job ids");
    assertEquals(
        IntStream.range(0, jobs).mapToObj(OutageChild::payload).toList(),
        stored.stream().map(Job::payload).toList(),
        "every item has its job, in order");
    List<Job> wrong =
        stored.stream()
            .filter(
                j ->
                    j.status() != JobStatus.SUCCEEDED
                        || !j.result().equals(Optional.of(OutageChild.result(j.payload()))))
            .limit(10)
            .toList();
    assertEquals(List.of(), wrong, "jobs that did not succeed with their own result");
    assertTrue(runs >= jobs, "the processor ran " + runs + " times for " + jobs + " jobs");

    // the log: the outages at WARN, once per episode, no stack trace
    String log = child.log();
    List<LogEntry> entries = LogEntry.parse(log);
    List<LogEntry> ours =
        entries.stream().filter(e -> e.logger().startsWith("io.batchkit.")).toList();
    List<LogEntry> ourWarns = ours.stream().filter(e -> e.level().equals("WARN")).toList();
    List<LogEntry> ourErrors = ours.stream().filter(e -> e.level().equals("ERROR")).toList();
    List<LogEntry> ourMultiLine =
        ours.stream().filter(e -> !e.continuation().isEmpty()).limit(5).toList();
    long ourStackLines =
        ours.stream()
            .filter(e -> e.level().equals("WARN") || e.level().equals("ERROR"))
            .mapToLong(LogEntry::stackTraceLines)
            .sum();
    // every payload and every result of the batch contains "item "
    List<LogEntry> leaking =
        ourWarns.stream().filter(e -> e.text().contains("item ")).limit(5).toList();
    long otherWarns =
        entries.stream()
            .filter(e -> !e.logger().startsWith("io.batchkit.") && e.level().equals("WARN"))
            .count();
    long otherStackLines =
        entries.stream()
            .filter(e -> !e.logger().startsWith("io.batchkit."))
            .mapToLong(LogEntry::stackTraceLines)
            .sum();
    Map<String, Long> warnsPerLogger =
        ourWarns.stream()
            .collect(
                Collectors.groupingBy(
                    e -> e.logger().substring(e.logger().lastIndexOf('.') + 1),
                    TreeMap::new,
                    Collectors.counting()));
    Map<String, String> figures = new LinkedHashMap<>();
    figures.put("seed", Long.toString(seed));
    figures.put("jobs", Integer.toString(jobs));
    figures.put("outages", Integer.toString(cut.size()));
    figures.put("sessions terminated", cut.toString());
    figures.put("executions", Integer.toString(runs));
    figures.put("jobs run more than once", Integer.toString(repeated));
    figures.put("lost", "0");
    figures.put("batchkit WARN lines", Integer.toString(ourWarns.size()));
    figures.put("batchkit WARN lines per logger", warnsPerLogger.toString());
    figures.put("batchkit stack-trace lines", Long.toString(ourStackLines));
    figures.put("batchkit WARN lines with a payload or result", Integer.toString(leaking.size()));
    figures.put("HikariCP/other WARN lines", Long.toString(otherWarns));
    figures.put("HikariCP/other stack-trace lines", Long.toString(otherStackLines));
    figures.put("duration ms", Long.toString(millis));
    reporter.publishEntry(figures);
    String warnText = ourWarns.stream().map(LogEntry::text).collect(Collectors.joining("\n"));
    System.out.println("OutageIT figures: " + figures);
    System.out.println("OutageIT: batchkit's WARN lines:\n" + warnText);
    assertEquals(List.of(), ourErrors, "ERROR lines of batchkit's loggers");
    assertEquals(0, ourStackLines, "stack-trace lines under batchkit's WARN lines:\n" + log);
    assertEquals(List.of(), ourMultiLine, "batchkit log entries of more than one line");
    assertEquals(List.of(), leaking, "batchkit WARN lines that carry a job's payload or result");
    assertTrue(
        ourWarns.stream().anyMatch(e -> e.text().contains("failed") || e.text().contains("lost")),
        "the outage was logged at WARN; batchkit's WARN lines:\n" + warnText);
    assertTrue(
        ourWarns.size() <= WARNS_PER_OUTAGE * OUTAGES,
        ourWarns.size()
            + " WARN lines for "
            + OUTAGES
            + " outages, more than "
            + WARNS_PER_OUTAGE
            + " per outage:\n"
            + warnText);
  }

  /** One entry of slf4j-simple's output: its first line and the lines that follow it. */
  record LogEntry(String level, String logger, String text, List<String> continuation) {
    static List<LogEntry> parse(String log) {
      List<LogEntry> entries = new ArrayList<>();
      for (String line : log.split("\n")) {
        Matcher m = ENTRY.matcher(line);
        if (m.lookingAt()) {
          entries.add(new LogEntry(m.group(1), m.group(2), line, new ArrayList<>()));
        } else if (!entries.isEmpty() && !line.isEmpty()) {
          entries.get(entries.size() - 1).continuation().add(line);
        }
      }
      return entries;
    }

    long stackTraceLines() {
      return continuation.stream().filter(l -> l.startsWith("\tat ")).count();
    }
  }

  private int sessions() {
    return query(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = ?"
            + " AND pid <> pg_backend_pid()");
  }

  /**
   * Terminates the node's sessions and returns how many. The CASE makes PostgreSQL test the name
   * before it terminates: the conditions of a WHERE clause may be evaluated in any order.
   */
  private int terminateSessions() {
    return query(
        "SELECT count(*) FROM pg_stat_activity WHERE CASE WHEN application_name = ?"
            + " AND pid <> pg_backend_pid() THEN pg_terminate_backend(pid) ELSE false END");
  }

  private int query(String sql) {
    try (Connection c = dataSource.getConnection();
        PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, applicationName);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getInt(1);
      }
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  private long succeeded(BatchId id) {
    return batch(id).progress().succeeded();
  }

  private Batch batch(BatchId id) {
    return store.findBatch(id).orElseThrow(() -> new AssertionError("batch " + id + " is missing"));
  }
}
