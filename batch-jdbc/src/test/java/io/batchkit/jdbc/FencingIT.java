package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.Job;
import io.batchkit.JobId;
import io.batchkit.JobProcessor;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Page;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.CompleteAndClaimResult;
import io.batchkit.spi.CompletionResult;
import io.batchkit.spi.HeartbeatResult;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * A node that lost its lease can never overwrite the work of the node that took the job over: its
 * outcomes are rejected by the fencing token and its heartbeats report the job lost. First through
 * the {@link JobStore} SPI with explicit instants, then through a {@link BatchService} whose clock
 * stands still, so that its leases run out exactly when the test says. On H2 and on PostgreSQL.
 */
class FencingIT {
  private static final String JOB_TYPE = "fenced";
  private static final String NODE_A = "node-a";
  private static final String NODE_B = "node-b";
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
  private static final Duration AGING = Duration.ofMinutes(1);

  @Nested
  class OnH2 extends Scenarios {
    @Override
    DataSource openDataSource() {
      return TestDatabases.h2();
    }
  }

  @Nested
  class OnPostgres extends Scenarios {
    @Override
    DataSource openDataSource() {
      return TestDatabases.postgres(8);
    }
  }

  /** The scenarios, run once per database. */
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  abstract class Scenarios {
    private final String prefix = TestDatabases.uniquePrefix();
    private DataSource dataSource;
    private JdbcJobStore store;
    private BatchService service;

    abstract DataSource openDataSource();

    @BeforeAll
    void createTables() {
      dataSource = openDataSource();
      // these scenarios are about the lease rule, which the test drives with its own instants;
      // with session liveness, a live service keeps its jobs past their lease (JdbcNodeRegistryIT
      // and NodeLivenessIT cover that), so it is off here, as behind PgBouncer
      store =
          JdbcJobStore.builder(dataSource)
              .tablePrefix(prefix)
              .createSchema(true)
              .sessionLiveness(false)
              .build();
    }

    @BeforeEach
    void emptyTables() throws Exception {
      TestDatabases.clear(dataSource, prefix);
    }

    @AfterEach
    void closeService() {
      if (service != null) {
        service.close();
        service = null;
      }
    }

    @AfterAll
    void dropTables() throws Exception {
      if (dataSource != null) {
        TestDatabases.drop(dataSource, prefix);
        if (dataSource instanceof AutoCloseable closeable) {
          closeable.close();
        }
      }
    }

    // -------------------------------------------------------------------------------------------
    // through the SPI

    @Test
    void staleNode_afterItsLeaseExpiredAndAnotherNodeClaimed_isRejectedAndToldTheJobIsLost() {
      Batch batch = insertBatch(1);
      ClaimedJob onA = claimOne(NODE_A, at(1), at(11));
      assertEquals(1, onA.attempt());
      HeartbeatResult renewed =
          store.heartbeat(NODE_A, Map.of(onA.id(), onA.fencingToken()), at(21));
      assertEquals(new HeartbeatResult(Set.of(), Set.of()), renewed, "A still holds the job");
      assertEquals(
          List.of(), store.requeueExpired(at(20), 10).batches(), "the lease runs to 21s now");

      // A falls silent: its lease runs out and the job is queued again
      CompletionResult expired = store.requeueExpired(at(22), 10);
      assertEquals(1, expired.batches().size());
      assertEquals(new Progress(1, 1, 0, 0, 0, 0), expired.batches().get(0).progress());
      assertEquals(JobStatus.QUEUED, onlyJob(batch.id()).status());

      ClaimedJob onB = claimOne(NODE_B, at(23), at(83));
      assertEquals(onA.id(), onB.id());
      assertEquals(2, onB.attempt(), "the expired attempt stays counted");
      assertNotEquals(onA.fencingToken(), onB.fencingToken(), "a new claim gets a new token");

      // A comes back, believing it still runs the job
      CompletionResult late = store.complete(List.of(succeeded(onA, "from A")), at(24));
      assertEquals(Set.of(onA.id()), late.rejected(), "A's outcome has an old token");
      assertEquals(List.of(), late.batches(), "nothing changed");
      HeartbeatResult lost =
          store.heartbeat(NODE_A, Map.of(onA.id(), onA.fencingToken()), at(1_000));
      assertEquals(new HeartbeatResult(Set.of(onA.id()), Set.of()), lost);
      Job running = onlyJob(batch.id());
      assertEquals(JobStatus.PROCESSING, running.status());
      assertEquals(Optional.of(NODE_B), running.nodeId());
      assertEquals(2, running.attempt());
      assertEquals(Optional.empty(), running.result());

      CompletionResult done = store.complete(List.of(succeeded(onB, "from B")), at(25));
      assertEquals(Set.of(), done.rejected());
      Batch finished = batchOf(batch.id());
      assertEquals(BatchStatus.COMPLETED, finished.status());
      assertEquals(new Progress(1, 0, 0, 1, 0, 0), finished.progress());
      assertJobEndedOnB(batch.id(), "from B");

      // whatever A sends later, and B's own outcome sent twice, change nothing
      List<JobOutcome> stale =
          List.of(
              succeeded(onA, "from A again"),
              JobOutcome.failed(onA, "A's failure"),
              JobOutcome.retry(onA, "A's retry", at(26)),
              JobOutcome.cancelled(onA),
              JobOutcome.released(onA),
              succeeded(onB, "from B again"));
      for (JobOutcome outcome : stale) {
        CompletionResult result = store.complete(List.of(outcome), at(26));
        assertEquals(Set.of(onA.id()), result.rejected(), outcome.kind() + " is rejected");
      }
      assertEquals(finished, batchOf(batch.id()));
      assertJobEndedOnB(batch.id(), "from B");
    }

    @Test
    void staleOutcome_ofARequeuedJob_isRejected_whileTheOthersOfTheSameCallAreRecorded() {
      Batch batch = insertBatch(2);
      List<ClaimedJob> claimed =
          store.claim(new ClaimRequest(NODE_A, 2, at(1), at(11), AGING, Map.of(JOB_TYPE, 2)));
      assertEquals(2, claimed.size());
      ClaimedJob lapsed = claimed.get(0);
      ClaimedJob kept = claimed.get(1);
      assertEquals(
          Set.of(), store.heartbeat(NODE_A, Map.of(kept.id(), kept.fencingToken()), at(60)).lost());
      store.requeueExpired(at(12), 10);

      CompletionResult result =
          store.complete(List.of(succeeded(lapsed, "late"), succeeded(kept, "on time")), at(13));

      assertEquals(Set.of(lapsed.id()), result.rejected());
      assertEquals(1, result.batches().size());
      assertEquals(new Progress(2, 1, 0, 1, 0, 0), result.batches().get(0).progress());
      Job requeued = jobOf(batch.id(), lapsed.id());
      assertEquals(JobStatus.QUEUED, requeued.status(), "the stale outcome left it queued");
      assertEquals(1, requeued.attempt());
      assertEquals(Optional.empty(), requeued.result());
      assertEquals(Optional.of("on time"), jobOf(batch.id(), kept.id()).result());

      ClaimedJob again = claimOne(NODE_B, at(14), at(74));
      assertEquals(lapsed.id(), again.id());
      assertEquals(
          Set.of(), store.complete(List.of(succeeded(again, "from B")), at(15)).rejected());
      assertEquals(BatchStatus.COMPLETED, batchOf(batch.id()).status());
      assertEquals(Optional.of("from B"), jobOf(batch.id(), lapsed.id()).result());
    }

    @Test
    void staleHeartbeat_doesNotRenewTheLeaseOfTheNewOwner() {
      Batch batch = insertBatch(1);
      ClaimedJob onA = claimOne(NODE_A, at(1), at(11));
      store.requeueExpired(at(12), 10);
      ClaimedJob onB = claimOne(NODE_B, at(13), at(23));

      HeartbeatResult stale =
          store.heartbeat(NODE_A, Map.of(onA.id(), onA.fencingToken()), at(3_600));
      // B's token, but not B's node: not B's lease either
      HeartbeatResult impostor =
          store.heartbeat(NODE_A, Map.of(onB.id(), onB.fencingToken()), at(3_600));

      assertEquals(Set.of(onA.id()), stale.lost());
      assertEquals(Set.of(onB.id()), impostor.lost());
      CompletionResult expired = store.requeueExpired(at(24), 10);
      assertEquals(
          new Progress(1, 1, 0, 0, 0, 0),
          expired.batches().get(0).progress(),
          "B's lease still ran out at 23s");
      Job job = onlyJob(batch.id());
      assertEquals(JobStatus.QUEUED, job.status());
      assertEquals(2, job.attempt());
      assertEquals(
          Set.of(onB.id()), store.complete(List.of(succeeded(onB, "from B")), at(25)).rejected());
    }

    // -------------------------------------------------------------------------------------------
    // through a service

    /**
     * Node A's clock stands still and its lease is an hour, so it renews nothing during the test (a
     * heartbeat is due every 20 minutes) and its lease ends when the test says. The test plays node
     * B through the store, then lets A's job return.
     */
    @Test
    void service_whoseJobOutlivedItsLease_hasItsLateOutcomeRejected() throws Exception {
      Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);
      List<CompleteCall> calls = new CopyOnWriteArrayList<>();
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch release = new CountDownLatch(1);
      service =
          nodeA(
              recording(store, calls),
              now,
              Duration.ofHours(1),
              ctx -> {
                started.countDown();
                if (!release.await(2, TimeUnit.MINUTES)) {
                  throw new IllegalStateException("the test never let the job end");
                }
                return "from A";
              });
      Batch batch = service.submit(BatchRequest.builder(JOB_TYPE).item("only").build());
      assertTrue(started.await(1, TimeUnit.MINUTES), "node A did not start the job");
      Job onA = onlyJob(batch.id());
      assertEquals(Optional.of(NODE_A), onA.nodeId());
      assertEquals(1, onA.attempt());

      Instant expiry = now.plus(Duration.ofHours(1));
      assertEquals(1, store.requeueExpired(expiry.plusMillis(1), 10).batches().size());
      ClaimedJob onB =
          claimEventually(NODE_B, expiry.plusMillis(2), expiry.plus(Duration.ofHours(1)));
      assertEquals(onA.id(), onB.id());
      release.countDown();
      service.close(); // lets A's worker end and A send its outcome

      List<CompleteCall> aboutTheJob = callsAbout(calls, onA.id());
      assertEquals(1, aboutTheJob.size(), "node A sent its outcome once: " + calls);
      CompleteCall late = aboutTheJob.get(0);
      assertEquals(JobOutcome.Kind.SUCCEEDED, outcomeOf(late, onA.id()).kind());
      assertTrue(
          late.result().rejected().contains(onA.id()), "A's late outcome was rejected: " + late);
      Job stillOnB = onlyJob(batch.id());
      assertEquals(JobStatus.PROCESSING, stillOnB.status());
      assertEquals(Optional.of(NODE_B), stillOnB.nodeId());
      assertEquals(2, stillOnB.attempt());
      assertEquals(Optional.empty(), stillOnB.result());
      assertEquals(new Progress(1, 0, 1, 0, 0, 0), batchOf(batch.id()).progress());

      CompletionResult done =
          store.complete(List.of(succeeded(onB, "from B")), expiry.plusMillis(3));
      assertEquals(Set.of(), done.rejected());
      assertEquals(BatchStatus.COMPLETED, batchOf(batch.id()).status());
      assertJobEndedOnB(batch.id(), "from B");
    }

    /**
     * Node A's clock stands still and its lease is 300 ms, so its heartbeats (every 100 ms) keep
     * renewing the same expiry. Once the test, as node B, took the job over, A's next heartbeat
     * hears that the job is lost: A interrupts the job and sends no outcome.
     */
    @Test
    void service_toldByItsHeartbeatThatItLostAJob_stopsItAndSendsNothing() throws Exception {
      Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);
      List<CompleteCall> calls = new CopyOnWriteArrayList<>();
      CountDownLatch started = new CountDownLatch(1);
      CountDownLatch stopped = new CountDownLatch(1);
      AtomicBoolean cancelledWhenStopped = new AtomicBoolean();
      service =
          nodeA(
              recording(store, calls),
              now,
              Duration.ofMillis(300),
              ctx -> {
                started.countDown();
                try {
                  new CountDownLatch(1).await(2, TimeUnit.MINUTES);
                  return "never stopped";
                } catch (InterruptedException e) {
                  cancelledWhenStopped.set(ctx.isCancelled());
                  stopped.countDown();
                  throw e;
                }
              });
      Batch batch = service.submit(BatchRequest.builder(JOB_TYPE).item("only").build());
      assertTrue(started.await(1, TimeUnit.MINUTES), "node A did not start the job");

      Instant later = now.plusSeconds(1);
      assertEquals(1, store.requeueExpired(later, 10).batches().size());
      ClaimedJob onB =
          claimEventually(NODE_B, later.plusMillis(1), later.plus(Duration.ofHours(1)));

      assertTrue(stopped.await(1, TimeUnit.MINUTES), "node A did not stop the lost job");
      assertTrue(cancelledWhenStopped.get(), "the stopped job saw isCancelled()");
      service.close();
      assertEquals(List.of(), callsAbout(calls, onB.id()), "node A sent nothing for the job");
      Job stillOnB = onlyJob(batch.id());
      assertEquals(JobStatus.PROCESSING, stillOnB.status());
      assertEquals(Optional.of(NODE_B), stillOnB.nodeId());

      CompletionResult done =
          store.complete(List.of(succeeded(onB, "from B")), later.plusMillis(2));
      assertEquals(Set.of(), done.rejected());
      assertEquals(BatchStatus.COMPLETED, batchOf(batch.id()).status());
      assertJobEndedOnB(batch.id(), "from B");
    }

    // -------------------------------------------------------------------------------------------
    // helpers

    private BatchService nodeA(JobStore via, Instant now, Duration lease, JobProcessor processor) {
      return BatchService.builder()
          .store(via)
          .discoverProcessors(false)
          .nodeId(NODE_A)
          .clock(Clock.fixed(now, ZoneOffset.UTC))
          .leaseDuration(lease)
          .maxConcurrency(1)
          .pollInterval(Duration.ofMillis(50))
          .shutdownGracePeriod(Duration.ofSeconds(30))
          .processor(JOB_TYPE, processor)
          .build();
    }

    /** Inserts a started batch of {@code jobs} queued jobs, created at {@link #T0}. */
    private Batch insertBatch(int jobs) {
      Batch batch =
          new Batch(
              BatchId.random(),
              "fencing",
              JOB_TYPE,
              Priority.NORMAL,
              Map.of(),
              jobs,
              3,
              Duration.ofMinutes(1),
              FailurePolicy.never(),
              Optional.empty(),
              BatchStatus.PROCESSING,
              Progress.allQueued(jobs),
              T0,
              Optional.of(T0),
              T0,
              Optional.empty(),
              Optional.empty());
      List<NewJob> newJobs = new ArrayList<>();
      for (int i = 0; i < jobs; i++) {
        newJobs.add(new NewJob(JobId.random(), "payload " + i));
      }
      assertTrue(store.insertBatch(batch, newJobs).created());
      return batch;
    }

    private ClaimedJob claimOne(String node, Instant now, Instant leaseUntil) {
      List<ClaimedJob> claimed =
          store.claim(new ClaimRequest(node, 1, now, leaseUntil, AGING, Map.of(JOB_TYPE, 1)));
      assertEquals(1, claimed.size(), node + " claimed a job at " + now);
      return claimed.get(0);
    }

    /**
     * Claims the one queued job while node A's service runs. A's service may hold the job for a
     * moment, so one attempt may find nothing: try until one finds the job, for up to a minute.
     */
    private ClaimedJob claimEventually(String node, Instant now, Instant leaseUntil) {
      long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
      while (true) {
        List<ClaimedJob> claimed =
            store.claim(new ClaimRequest(node, 1, now, leaseUntil, AGING, Map.of(JOB_TYPE, 1)));
        if (!claimed.isEmpty()) {
          return claimed.get(0);
        }
        if (System.nanoTime() > deadline) {
          throw new AssertionError(node + " could not claim the job within a minute");
        }
        LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(10));
      }
    }

    private Batch batchOf(BatchId id) {
      return store
          .findBatch(id)
          .orElseThrow(() -> new AssertionError("batch " + id + " is missing"));
    }

    private Job onlyJob(BatchId id) {
      Page<Job> jobs = store.listJobs(id, JobQuery.all());
      assertEquals(1, jobs.items().size(), "jobs of batch " + id);
      return jobs.items().get(0);
    }

    private Job jobOf(BatchId batchId, JobId jobId) {
      return store.listJobs(batchId, JobQuery.all()).items().stream()
          .filter(j -> j.id().equals(jobId))
          .findFirst()
          .orElseThrow(() -> new AssertionError("job " + jobId + " is missing"));
    }

    private void assertJobEndedOnB(BatchId id, String result) {
      Job job = onlyJob(id);
      assertEquals(JobStatus.SUCCEEDED, job.status());
      assertEquals(Optional.of(result), job.result());
      assertEquals(Optional.of(NODE_B), job.nodeId());
      assertEquals(2, job.attempt());
    }
  }

  private static Instant at(long seconds) {
    return T0.plusSeconds(seconds);
  }

  private static JobOutcome succeeded(ClaimedJob job, String result) {
    return JobOutcome.succeeded(job, result);
  }

  /** One {@link JobStore#complete} call a service made, and what the store answered. */
  record CompleteCall(List<JobOutcome> outcomes, CompletionResult result) {}

  private static List<CompleteCall> callsAbout(List<CompleteCall> calls, JobId job) {
    return calls.stream()
        .filter(c -> c.outcomes().stream().anyMatch(o -> o.jobId().equals(job)))
        .toList();
  }

  private static JobOutcome outcomeOf(CompleteCall call, JobId job) {
    return call.outcomes().stream().filter(o -> o.jobId().equals(job)).findFirst().orElseThrow();
  }

  /**
   * Returns a store that passes every call to {@code delegate} and records the {@code complete}
   * calls in {@code calls}. A proxy rather than a class, so that it keeps up with the interface.
   */
  @SuppressWarnings("unchecked")
  private static JobStore recording(JobStore delegate, List<CompleteCall> calls) {
    return (JobStore)
        Proxy.newProxyInstance(
            JobStore.class.getClassLoader(),
            new Class<?>[] {JobStore.class},
            (proxy, method, args) -> {
              Object result;
              try {
                result = method.invoke(delegate, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
              // outcomes reach the store through complete, or with a claim in completeAndClaim
              if (method.getName().equals("complete")) {
                calls.add(
                    new CompleteCall(
                        List.copyOf((List<JobOutcome>) args[0]), (CompletionResult) result));
              } else if (method.getName().equals("completeAndClaim")
                  && !((List<?>) args[0]).isEmpty()) {
                calls.add(
                    new CompleteCall(
                        List.copyOf((List<JobOutcome>) args[0]),
                        ((CompleteAndClaimResult) result).completion()));
              }
              return result;
            });
  }
}
