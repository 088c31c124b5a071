package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import io.batchkit.jdbc.RestartChild.Execution;
import io.batchkit.testkit.Stores;
import java.io.IOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestReporter;

/**
 * A node dies in the middle of a batch: {@link RestartChild} runs the batch in a JVM of its own and
 * is killed with {@code destroyForcibly()} while jobs run; a new service on the same PostgreSQL
 * database then finishes the batch. The jobs the dead node held run again once their lease expired,
 * and nothing is lost or counted twice.
 */
class RestartIT {
  private static final Duration CHILD_START = Duration.ofMinutes(2);
  private static final Duration COMPLETION = Duration.ofMinutes(3);
  private static final String RESTARTED = "restarted";

  private final String prefix = TestDatabases.uniquePrefix();
  private HikariDataSource dataSource;
  private JdbcJobStore store;
  private ChildJvm child;
  private BatchService service;

  @BeforeEach
  void createTables() throws Exception {
    dataSource = TestDatabases.postgres(10);
    store = JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
    RestartChild.createExecutionTable(dataSource, prefix);
  }

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
        TestDatabases.drop(dataSource, prefix);
        RestartChild.dropExecutionTable(dataSource, prefix);
        dataSource.close();
      }
    }
  }

  @Test
  void killedNode_itsRunningJobsRunAgainAfterTheirLeaseExpires_andTheBatchCompletesExactly(
      TestReporter reporter) throws Exception {
    BatchId id = startChild();
    child.awaitUntil(
        "the child has finished some jobs and runs others",
        CHILD_START,
        () -> {
          Progress p = batch(id).progress();
          return p.succeeded() >= 20 && p.processing() > 0;
        });

    child.kill();

    Batch atKill = batch(id);
    List<Job> jobsAtKill = allJobs(id);
    Map<JobId, Job> runningAtKill = new HashMap<>();
    jobsAtKill.stream()
        .filter(j -> j.status() == JobStatus.PROCESSING)
        .forEach(j -> runningAtKill.put(j.id(), j));
    List<JobId> succeededAtKill =
        jobsAtKill.stream().filter(j -> j.status() == JobStatus.SUCCEEDED).map(Job::id).toList();
    assertEquals(BatchStatus.PROCESSING, atKill.status(), "the batch at the kill: " + atKill);
    assertFalse(runningAtKill.isEmpty(), "jobs were running when the child was killed: " + atKill);
    assertEquals(runningAtKill.size(), atKill.progress().processing(), "running at the kill");
    assertEquals(succeededAtKill.size(), atKill.progress().succeeded(), "succeeded at the kill");
    reporter.publishEntry("at the kill", atKill.progress().toString());
    for (Job job : runningAtKill.values()) {
      assertEquals(Optional.of(RestartChild.NODE), job.nodeId(), "owner of " + job.id());
    }

    service =
        BatchService.builder()
            .store(store)
            .discoverProcessors(false)
            .nodeId(RESTARTED)
            .maxConcurrency(RestartChild.CONCURRENCY)
            .pollInterval(Duration.ofMillis(100))
            .processor(RestartChild.JOB_TYPE, RestartChild.recorder(dataSource, prefix, RESTARTED))
            .build();
    Batch done = service.awaitCompletion(id, COMPLETION);

    assertTrue(done.isFinished(), "the batch did not finish after the restart: " + done);
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(new Progress(RestartChild.JOBS, 0, 0, RestartChild.JOBS, 0, 0), done.progress());
    List<Job> jobs = allJobs(id);
    assertEquals(RestartChild.JOBS, jobs.size());
    List<Job> notSucceeded = jobs.stream().filter(j -> j.status() != JobStatus.SUCCEEDED).toList();
    assertEquals(List.of(), notSucceeded, "every job succeeded");

    Map<String, List<Execution>> runs =
        RestartChild.executions(dataSource, prefix).stream()
            .collect(Collectors.groupingBy(Execution::jobId));
    Map<String, Job> byId = new HashMap<>();
    jobs.forEach(j -> byId.put(j.id().toString(), j));
    assertEquals(
        List.of(),
        runs.keySet().stream().filter(jobId -> !byId.containsKey(jobId)).toList(),
        "runs of jobs that are not in the batch");
    List<String> neverRanToTheEnd =
        byId.keySet().stream()
            .filter(
                jobId -> runs.getOrDefault(jobId, List.of()).stream().noneMatch(Execution::ended))
            .toList();
    assertEquals(List.of(), neverRanToTheEnd, "jobs without a run that ended");

    for (Job before : runningAtKill.values()) {
      Job after = byId.get(before.id().toString());
      List<Execution> jobRuns = runs.get(before.id().toString());
      assertEquals(
          before.attempt() + 1,
          after.attempt(),
          "job " + before.id() + ", running at the kill, ran once more: " + jobRuns);
      assertEquals(Optional.of(RESTARTED), after.nodeId(), "node of " + before.id());
      assertTrue(
          jobRuns.stream()
              .anyMatch(
                  r -> r.node().equals(RESTARTED) && r.attempt() == after.attempt() && r.ended()),
          "job " + before.id() + " ran to its end on the restarted node: " + jobRuns);
    }
    for (JobId jobId : succeededAtKill) {
      Job after = byId.get(jobId.toString());
      assertEquals(
          Optional.of(RestartChild.NODE), after.nodeId(), "job " + jobId + " done before the kill");
      assertTrue(
          runs.get(jobId.toString()).stream().noneMatch(r -> r.node().equals(RESTARTED)),
          "job "
              + jobId
              + ", done before the kill, did not run again: "
              + runs.get(jobId.toString()));
    }
    for (Job before : jobsAtKill) {
      if (before.status() != JobStatus.QUEUED) {
        continue;
      }
      Job after = byId.get(before.id().toString());
      List<Execution> jobRuns = runs.get(before.id().toString());
      assertEquals(before.attempt() + 1, after.attempt(), "job " + before.id() + ": " + jobRuns);
      assertTrue(
          jobRuns.stream()
              .anyMatch(
                  r -> r.node().equals(RESTARTED) && r.attempt() == after.attempt() && r.ended()),
          "job " + before.id() + ", queued at the kill, ran on the restarted node: " + jobRuns);
    }
  }

  /** Starts the child JVM and returns the id of the batch it submitted. */
  private BatchId startChild() throws IOException {
    child = ChildJvm.start(RestartChild.class, List.of(), dataSource.getJdbcUrl(), prefix);
    return BatchId.parse(child.awaitLine(RestartChild.BATCH_LINE, CHILD_START));
  }

  private Batch batch(BatchId id) {
    return store.findBatch(id).orElseThrow(() -> new AssertionError("batch " + id + " is missing"));
  }

  private List<Job> allJobs(BatchId id) {
    return Stores.allJobs(store, id);
  }
}
