package io.batchkit.spi;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchQuery;
import io.batchkit.BatchStatus;
import io.batchkit.CancellationSummary;
import io.batchkit.FailurePolicy;
import io.batchkit.Job;
import io.batchkit.JobAttempt;
import io.batchkit.JobId;
import io.batchkit.JobNotFoundException;
import io.batchkit.JobProgress;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Page;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.internal.util.NewJobs;
import io.batchkit.spi.JobOutcome.Kind;
import io.batchkit.testkit.Await;
import io.batchkit.testkit.Stores;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The contract every {@link JobStore} keeps, one test per rule of the {@code JobStore} Javadoc.
 *
 * <p>A store joins by extending this class and returning a fresh, empty store from {@link
 * #newStore()}; this class ships in batch-core's test-jar for that reason and uses only the SPI and
 * the public types. A store receives every time as an argument, so the tests pass explicit
 * instants: {@link #at(long)} seconds after a fixed base time, whole milliseconds so that database
 * timestamps hold them exactly. A subclass that needs to release resources can override {@link
 * #closeStore()}.
 *
 * <p>The helpers ({@link #batch(int)}, {@link #newBatch(int, BatchStatus)}, {@link #insert}, {@link
 * #claim}, {@link #outcome}) are protected so that a store's own tests can reuse them.
 */
public abstract class JobStoreContractTest {
  private static final Logger LOG = LoggerFactory.getLogger(JobStoreContractTest.class);

  /** The base time of every test; later instants are {@link #at(long)}. */
  protected static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  /** The job type of the batches the helpers build, unless a test names another. */
  protected static final String JOB_TYPE = "contract-job";

  /** The lease the claim helpers ask for. */
  protected static final Duration LEASE = Duration.ofMinutes(5);

  /** The ageing step the claim helpers pass: one priority level per minute of waiting. */
  protected static final Duration AGING_STEP = Duration.ofMinutes(1);

  protected static final String NODE_A = "node-a";
  protected static final String NODE_B = "node-b";
  protected static final String NODE_C = "node-c";

  /** Payloads that a careless store would mangle: control characters, unicode, SQL, escapes. */
  protected static final List<String> AWKWARD_TEXTS =
      List.of(
          "",
          " ",
          "  leading and trailing spaces  ",
          "tab\there, newline\nthere, return\r\n, bell\u0007, escape\u001b[31m, unit\u001f, del\u007f",
          "'; DROP TABLE x; --",
          "\"; DELETE FROM batch_jobs WHERE 1=1; /*",
          "Robert'); DROP TABLE students;-- ' OR '1'='1",
          "100% _wild_ [cards] \\% \\_ *?",
          "back\\slash \\\\ \\n \\0 \\' \\\"",
          "${jndi:ldap://x} {{template}} %s %n",
          "日本語のテキスト, Ελληνικά, русский, עברית, العربية",
          "emoji 😀👩‍👩‍👧‍👦🏳️‍🌈 and a lone astral 𝔘𝔫𝔦𝔠𝔬𝔡𝔢",
          "combining e\u0301 vs \u00e9, zero width\u200b joiner\u200d, BOM\ufeff, nbsp\u00a0",
          "{\"json\": [1, 2.5, null, true], \"nested\": {\"k\": \"v\"}}",
          "<xml attr='1'>&amp;</xml>");

  /** The store under test: a fresh one per test. */
  protected JobStore store;

  /** Returns a new, empty store. Called once before each test. */
  protected abstract JobStore newStore();

  @BeforeEach
  void createStore() {
    store = newStore();
  }

  /** Releases the store after each test; closes it when it is {@link AutoCloseable}. */
  @AfterEach
  protected void closeStore() throws Exception {
    if (store instanceof AutoCloseable closeable) {
      closeable.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // insertBatch

  @Test
  void insertBatch_storesBatchAndJobsExactlyAsGiven() {
    Batch pending =
        batch(3)
            .status(BatchStatus.PENDING)
            .name("nightly import")
            .priority(Priority.HIGH)
            .metadata("tenant", "acme")
            .metadata("source", "s3://bucket/key")
            .maxConcurrency(7)
            .maxAttempts(4)
            .jobTimeout(Duration.ofMillis(12_345))
            .failurePolicy(new FailurePolicy(3, 0.25))
            .idempotencyKey("import-2030-01-01")
            .createdAt(at(1))
            .build();
    Batch processing = batch(2).createdAt(at(2)).startedAt(at(3)).updatedAt(at(3)).build();

    InsertResult first = store.insertBatch(pending, jobs(3));
    List<NewJob> processingJobs = jobs(2);
    InsertResult second = store.insertBatch(processing, processingJobs);

    assertTrue(first.created());
    assertEquals(pending, first.batch());
    assertTrue(second.created());
    assertEquals(processing, second.batch());
    assertEquals(Optional.of(pending), store.findBatch(pending.id()));
    assertEquals(Optional.of(processing), store.findBatch(processing.id()));
    List<Job> stored = allJobs(processing.id());
    assertEquals(2, stored.size());
    for (int i = 0; i < stored.size(); i++) {
      Job job = stored.get(i);
      assertEquals(processingJobs.get(i).id(), job.id());
      assertEquals(processing.id(), job.batchId());
      assertEquals(processingJobs.get(i).payload(), job.payload());
      assertEquals(JobStatus.QUEUED, job.status());
      assertEquals(0, job.attempt());
      assertEquals(Optional.empty(), job.result());
      assertEquals(Optional.empty(), job.error());
      assertEquals(Optional.empty(), job.startedAt());
      assertEquals(Optional.empty(), job.finishedAt());
      assertEquals(Optional.empty(), job.nodeId());
    }
  }

  @Test
  void insertBatch_keepsPayloadsVerbatim() {
    List<String> payloads = new ArrayList<>(AWKWARD_TEXTS);
    // the service's default maxPayloadBytes (1 MiB), in two-byte characters
    payloads.add("é".repeat(512 * 1024));
    List<NewJob> jobs = new ArrayList<>();
    for (String payload : payloads) {
      jobs.add(new NewJob(JobId.random(), payload));
    }
    Batch batch = batch(payloads.size()).maxConcurrency(payloads.size()).build();

    store.insertBatch(batch, jobs);

    List<Job> stored = allJobs(batch.id());
    assertEquals(payloads.size(), stored.size());
    for (int i = 0; i < payloads.size(); i++) {
      assertEquals(jobs.get(i).id(), stored.get(i).id(), "id of job " + i);
      assertEquals(payloads.get(i), stored.get(i).payload(), "payload of job " + i);
    }
    Map<JobId, String> claimed = new HashMap<>();
    for (ClaimedJob job : claim(NODE_A, payloads.size(), at(1))) {
      claimed.put(job.id(), job.payload());
    }
    for (NewJob job : jobs) {
      assertEquals(job.payload(), claimed.get(job.id()), "claimed payload of " + job.id());
    }
  }

  @Test
  void insertBatch_keepsBatchTextsVerbatim() {
    List<Batch> batches = new ArrayList<>();
    for (int i = 0; i < AWKWARD_TEXTS.size(); i++) {
      String text = AWKWARD_TEXTS.get(i);
      BatchSpec spec = batch(1).name(text).idempotencyKey("key " + i + " " + text);
      spec.metadata("text", text).metadata(text + " as key " + i, "v");
      Batch batch = spec.build();
      store.insertBatch(batch, jobs(1));
      batches.add(batch);
    }

    for (Batch batch : batches) {
      assertEquals(Optional.of(batch), store.findBatch(batch.id()));
    }
    for (int i = 0; i < AWKWARD_TEXTS.size(); i++) {
      Page<Batch> found =
          store.listBatches(BatchQuery.builder().metadata("text", AWKWARD_TEXTS.get(i)).build());
      assertEquals(List.of(batches.get(i)), found.items(), "metadata filter for text " + i);
    }
  }

  @Test
  void insertBatch_isAtomic_storesNothingWhenAJobIsNull() {
    Batch batch = newBatch(4, BatchStatus.PROCESSING);
    List<NewJob> jobs = jobs(4);
    List<NewJob> withNull = Arrays.asList(jobs.get(0), jobs.get(1), null, jobs.get(2));

    assertThrows(NullPointerException.class, () -> store.insertBatch(batch, withNull));

    assertEquals(Optional.empty(), store.findBatch(batch.id()));
    assertEquals(List.of(), store.listBatches(BatchQuery.all()).items());
    assertEquals(0, store.countQueuedJobs());
    assertEquals(List.of(), claim(NODE_A, 10, at(1)));
    // nothing of the failed call is left behind: the same ids can be stored afterwards
    assertTrue(store.insertBatch(batch, jobs).created());
    assertEquals(ids(jobs), ids(allJobs(batch.id())));
  }

  @Test
  void insertBatch_withTakenIdempotencyKey_returnsStoredBatchAndStoresNothing() {
    Stored original = insert(batch(2).idempotencyKey("once"));
    store.claim(request(NODE_A, 1, at(1)));
    Batch stored = batchOf(original.id());
    Batch again = batch(5).idempotencyKey("once").name("another").build();

    InsertResult result = store.insertBatch(again, jobs(5));

    assertFalse(result.created());
    assertEquals(stored, result.batch());
    assertEquals(new Progress(2, 1, 1, 0, 0, 0), result.batch().progress());
    assertEquals(Optional.empty(), store.findBatch(again.id()));
    assertEquals(List.of(stored), store.listBatches(BatchQuery.all()).items());
    assertEquals(1, store.countQueuedJobs());
  }

  @Test
  void insertBatch_withAFingerprint_keepsItWithTheKey_andHandsItBackWhenTheKeyIsTaken() {
    String first = "a".repeat(64);
    Batch keyed = batch(1).idempotencyKey("printed").build();
    InsertResult created = store.insertBatch(keyed, jobs(1), printed(first));
    assertTrue(created.created());
    assertEquals(Optional.of(first), created.fingerprint());

    InsertResult again =
        store.insertBatch(
            batch(2).idempotencyKey("printed").build(), jobs(2), printed("b".repeat(64)));

    assertFalse(again.created());
    assertEquals(keyed.id(), again.batch().id());
    assertEquals(Optional.of(first), again.fingerprint(), "the stored one, not the new one");
    Batch unprinted = batch(1).idempotencyKey("unprinted").build();
    assertEquals(Optional.empty(), store.insertBatch(unprinted, jobs(1)).fingerprint());
    assertEquals(
        Optional.empty(),
        store
            .insertBatch(batch(1).idempotencyKey("unprinted").build(), jobs(1), printed(first))
            .fingerprint(),
        "a batch stored without a fingerprint has none");
    assertThrows(IllegalArgumentException.class, () -> printed("c".repeat(65)));
  }

  @Test
  void startDueBatches_startsPendingBatchesWhoseTimeCame_andLeavesTheOthers() {
    Batch early = batch(2).status(BatchStatus.PENDING).build();
    Batch late = batch(1).status(BatchStatus.PENDING).build();
    Batch startedByHand = batch(1).status(BatchStatus.PENDING).build();
    Batch cancelled = batch(1).status(BatchStatus.PENDING).build();
    store.insertBatch(early, jobs(2), scheduled(at(10)));
    store.insertBatch(late, jobs(1), scheduled(at(20)));
    store.insertBatch(startedByHand, jobs(1), scheduled(at(10)));
    store.insertBatch(cancelled, jobs(1), scheduled(at(10)));
    store.startBatch(startedByHand.id(), at(5));
    store.cancelBatch(cancelled.id(), at(5));

    assertEquals(List.of(), store.startDueBatches(at(9)), "nothing is due yet");
    List<Batch> started = store.startDueBatches(at(10));

    assertEquals(List.of(early.id()), batchIds(started));
    Batch now = batchOf(early.id());
    assertEquals(BatchStatus.PROCESSING, now.status());
    assertEquals(Optional.of(at(10)), now.startedAt());
    assertEquals(BatchStatus.PENDING, batchOf(late.id()).status());
    assertEquals(Optional.of(at(5)), batchOf(startedByHand.id()).startedAt(), "not started again");
    assertEquals(BatchStatus.CANCELLED, batchOf(cancelled.id()).status());
    assertEquals(List.of(), store.startDueBatches(at(11)), "started once");
    assertEquals(
        2,
        claim(NODE_A, 10, at(12)).stream().filter(j -> j.batchId().equals(early.id())).count(),
        "its jobs are claimable");
    assertEquals(List.of(late.id()), batchIds(store.startDueBatches(at(30))));
    assertThrows(
        IllegalArgumentException.class,
        () -> store.insertBatch(batch(1).build(), jobs(1), scheduled(at(40))),
        "only a PENDING batch can wait for its time");
    assertThrows(NullPointerException.class, () -> store.startDueBatches(null));
  }

  private static StoredRequest printed(String fingerprint) {
    return new StoredRequest(Optional.of(fingerprint), Optional.empty());
  }

  private static StoredRequest scheduled(Instant at) {
    return new StoredRequest(Optional.empty(), Optional.of(at));
  }

  @Test
  void findBatchByIdempotencyKey_findsTheKeyedBatch_untilItIsDeleted() {
    Stored keyed = insert(batch(1).idempotencyKey("looked up"));
    insert(batch(1).jobType("unkeyed"));

    assertEquals(Optional.of(keyed.batch()), store.findBatchByIdempotencyKey("looked up"));
    assertEquals(Optional.empty(), store.findBatchByIdempotencyKey("Looked up"));
    assertEquals(Optional.empty(), store.findBatchByIdempotencyKey("looked up "));
    assertThrows(NullPointerException.class, () -> store.findBatchByIdempotencyKey(null));

    claimAndComplete(JOB_TYPE, at(1), Kind.SUCCEEDED);
    store.deleteBatch(keyed.id());
    assertEquals(Optional.empty(), store.findBatchByIdempotencyKey("looked up"));
  }

  @Test
  void insertBatch_idempotencyKeyIsFreedByDelete() {
    Stored original = insert(batch(1).idempotencyKey("reusable"));
    claimAndComplete(JOB_TYPE, at(1), Kind.SUCCEEDED);
    store.deleteBatch(original.id());
    Batch again = batch(2).idempotencyKey("reusable").createdAt(at(2)).build();

    InsertResult result = store.insertBatch(again, jobs(2));

    assertTrue(result.created());
    assertEquals(again, result.batch());
    assertEquals(Optional.of(again), store.findBatch(again.id()));
  }

  @Test
  void insertBatch_rejectsProgressThatDoesNotCountEveryJobAsQueued() {
    Batch tooMany = batch(3).build();
    Batch notQueued = batch(2).progress(new Progress(2, 1, 1, 0, 0, 0)).build();
    Batch finished = batch(2).progress(new Progress(2, 0, 0, 2, 0, 0)).build();

    assertThrows(IllegalArgumentException.class, () -> store.insertBatch(tooMany, jobs(2)));
    assertThrows(IllegalArgumentException.class, () -> store.insertBatch(notQueued, jobs(2)));
    assertThrows(IllegalArgumentException.class, () -> store.insertBatch(finished, jobs(2)));

    assertEquals(List.of(), store.listBatches(BatchQuery.all()).items());
    assertEquals(0, store.countQueuedJobs());
  }

  @ParameterizedTest
  @EnumSource(
      value = BatchStatus.class,
      names = {"COMPLETED", "PARTIAL", "FAILED", "CANCELLED"})
  void insertBatch_rejectsStatusOtherThanPendingOrProcessing(BatchStatus status) {
    Batch batch = batch(2).status(status).startedAt(T0).completedAt(T0).build();

    assertThrows(IllegalArgumentException.class, () -> store.insertBatch(batch, jobs(2)));

    assertEquals(Optional.empty(), store.findBatch(batch.id()));
  }

  @Test
  void insertBatch_rejectsTakenBatchId() {
    Stored original = insert(batch(2));
    Batch sameId = batch(3).id(original.id()).name("impostor").build();

    assertThrows(IllegalArgumentException.class, () -> store.insertBatch(sameId, jobs(3)));

    assertEquals(Optional.of(original.batch()), store.findBatch(original.id()));
    assertEquals(ids(original.jobs()), ids(allJobs(original.id())));
  }

  @Test
  void insertBatch_rejectsABatchWithoutJobs() {
    Batch empty = batch(0).build();

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> store.insertBatch(empty, List.of()));

    assertTrue(e.getMessage().contains("at least one job"), e.getMessage());
    assertEquals(Optional.empty(), store.findBatch(empty.id()));
  }

  @Test
  void insertBatch_rejectsTwoJobsWithOneId() {
    Batch batch = batch(2).build();
    NewJob job = jobs(1).get(0);

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> store.insertBatch(batch, List.of(job, job)));

    assertTrue(e.getMessage().contains(job.id().toString()), e.getMessage());
    assertEquals(Optional.empty(), store.findBatch(batch.id()));
  }

  // ---------------------------------------------------------------------------------------------
  // batch events

  @Test
  void listBatchEvents_recordsEachStepOfABatchsLife_inOrder_untilTheBatchIsDeleted() {
    Stored stored = insert(batch(2).status(BatchStatus.PENDING).maxAttempts(1));
    BatchId id = stored.batch().id();
    store.addJobs(id, jobs(1), 1_000, at(1));
    store.startBatch(id, at(2));
    List<ClaimedJob> claimed = claim(NODE_A, 3, at(3));
    List<JobOutcome> first =
        List.of(
            outcome(claimed.get(0), Kind.SUCCEEDED, at(4)),
            outcome(claimed.get(1), Kind.FAILED, at(4)),
            outcome(claimed.get(2), Kind.SUCCEEDED, at(4)));
    store.complete(first, at(4));
    store.retryFailed(id, at(5));
    List<ClaimedJob> again = claim(NODE_A, 1, at(6));
    store.complete(List.of(outcome(again.get(0), Kind.SUCCEEDED, at(7))), at(7));

    List<BatchEvent> events = store.listBatchEvents(id);

    assertEquals(
        List.of(
            BatchEvent.Type.CREATED,
            BatchEvent.Type.ITEMS_ADDED,
            BatchEvent.Type.STARTED,
            BatchEvent.Type.FINISHED,
            BatchEvent.Type.FAILED_JOBS_RETRIED,
            BatchEvent.Type.FINISHED),
        events.stream().map(BatchEvent::type).toList());
    assertEquals(
        List.of(T0, at(1), at(2), at(4), at(5), at(7)),
        events.stream().map(BatchEvent::at).toList());
    events.forEach(e -> assertEquals(id, e.batchId()));
    assertTrue(events.get(0).detail().contains("2 jobs"), events.get(0).detail());
    assertTrue(events.get(1).detail().contains("3 in all"), events.get(1).detail());
    assertTrue(events.get(2).detail().contains("startBatch"), events.get(2).detail());
    assertTrue(events.get(3).detail().startsWith("PARTIAL"), events.get(3).detail());
    assertTrue(events.get(4).detail().startsWith("1 failed"), events.get(4).detail());
    assertTrue(events.get(5).detail().startsWith("COMPLETED"), events.get(5).detail());

    store.deleteBatch(id);
    assertThrows(BatchNotFoundException.class, () -> store.listBatchEvents(id));
  }

  @Test
  void listBatchEvents_startsOnCreationOrAtTheScheduledTime() {
    Stored auto = insert(batch(1));
    Batch scheduled = batch(1).status(BatchStatus.PENDING).build();
    store.insertBatch(scheduled, jobs(1), scheduled(at(10)));
    store.startDueBatches(at(10));

    List<BatchEvent> onCreation = store.listBatchEvents(auto.batch().id());
    assertEquals(
        List.of(BatchEvent.Type.CREATED, BatchEvent.Type.STARTED),
        onCreation.stream().map(BatchEvent::type).toList());
    assertTrue(onCreation.get(1).detail().contains("autoStart"), onCreation.get(1).detail());
    List<BatchEvent> atTime = store.listBatchEvents(scheduled.id());
    assertEquals(BatchEvent.Type.STARTED, atTime.get(1).type());
    assertEquals(at(10), atTime.get(1).at());
    assertTrue(atTime.get(1).detail().contains("scheduled"), atTime.get(1).detail());
    assertThrows(BatchNotFoundException.class, () -> store.listBatchEvents(BatchId.random()));
  }

  @Test
  void listBatchEvents_aCancellationFinishesTheBatchOnceItsRunningJobsEnd() {
    Stored running = insert(batch(3));
    ClaimedJob job = claim(NODE_A, 1, at(1)).get(0);
    Stored waiting = insert(batch(1).status(BatchStatus.PENDING));

    store.cancelBatch(running.batch().id(), at(2));
    store.cancelBatch(waiting.batch().id(), at(2));

    List<BatchEvent> stopping = store.listBatchEvents(running.batch().id());
    assertEquals(BatchEvent.Type.CANCELLED, stopping.get(stopping.size() - 1).type());
    assertTrue(
        stopping.get(stopping.size() - 1).detail().contains("2 queued jobs cancelled, 1 running"),
        stopping.get(stopping.size() - 1).detail());
    store.complete(List.of(outcome(job, Kind.CANCELLED, at(3))), at(3));
    List<BatchEvent> ended = store.listBatchEvents(running.batch().id());
    assertEquals(BatchEvent.Type.FINISHED, ended.get(ended.size() - 1).type());
    assertEquals(at(3), ended.get(ended.size() - 1).at());
    assertTrue(ended.get(ended.size() - 1).detail().startsWith("CANCELLED"));
    assertEquals(stopping.size() + 1, ended.size());
    assertEquals(
        List.of(BatchEvent.Type.CREATED, BatchEvent.Type.CANCELLED, BatchEvent.Type.FINISHED),
        store.listBatchEvents(waiting.batch().id()).stream().map(BatchEvent::type).toList());
  }

  @Test
  void listBatchEvents_aTrippedFailurePolicyIsRecordedBeforeTheFinish() {
    Stored stored = insert(batch(3).maxAttempts(1).failurePolicy(FailurePolicy.maxFailures(1)));
    List<ClaimedJob> jobs = claim(NODE_A, 2, at(1));

    // two failures are past a limit of one
    store.complete(
        List.of(outcome(jobs.get(0), Kind.FAILED, at(2)), outcome(jobs.get(1), Kind.FAILED, at(2))),
        at(2));

    List<BatchEvent> events = store.listBatchEvents(stored.batch().id());
    assertEquals(
        List.of(
            BatchEvent.Type.CREATED,
            BatchEvent.Type.STARTED,
            BatchEvent.Type.FAILURE_POLICY_TRIPPED,
            BatchEvent.Type.FINISHED),
        events.stream().map(BatchEvent::type).toList());
    assertTrue(events.get(3).detail().startsWith("FAILED"), events.get(3).detail());
  }

  // ---------------------------------------------------------------------------------------------
  // attempt history

  @Test
  void listJobAttempts_keepsEveryAttempt_inOrder_evenAcrossRetryFailed() {
    Stored stored = insert(batch(1).maxAttempts(2));
    JobId id = stored.jobs().get(0).id();
    ClaimedJob first = claim(NODE_A, 1, at(1)).get(0);
    store.complete(
        List.of(outcome(first, Kind.RETRY, at(2)).withStart(at(1).plusMillis(500))), at(2));
    ClaimedJob second = claim(NODE_B, 1, at(3)).get(0);
    store.complete(List.of(outcome(second, Kind.FAILED, at(4))), at(4));
    assertEquals(BatchStatus.FAILED, batchOf(stored.id()).status());
    store.retryFailed(stored.id(), at(5));
    ClaimedJob third = claim(NODE_C, 1, at(6)).get(0);
    store.complete(
        List.of(outcome(third, Kind.SUCCEEDED, at(7)).withStart(at(6).plusMillis(250))), at(7));

    List<JobAttempt> history = store.listJobAttempts(id);

    assertEquals(
        List.of(
            new JobAttempt(
                id,
                1,
                NODE_A,
                at(1).plusMillis(500),
                at(2),
                JobAttempt.Outcome.RETRY_SCHEDULED,
                Optional.of("retry of " + id)),
            new JobAttempt(
                id,
                2,
                NODE_B,
                at(3),
                at(4),
                JobAttempt.Outcome.FAILED,
                Optional.of("failure of " + id)),
            new JobAttempt(
                id,
                1,
                NODE_C,
                at(6).plusMillis(250),
                at(7),
                JobAttempt.Outcome.SUCCEEDED,
                Optional.empty())),
        history);
    assertEquals(
        Optional.of(at(6).plusMillis(250)),
        jobOf(stored.id(), id).startedAt(),
        "the job's start is the one its node reported, not its claim's");
    assertEquals(history, store.listJobAttempts(id), "reading changes nothing");
  }

  @Test
  void listJobAttempts_tellsTimeOutsLostLeasesAndJobsGivenBack() {
    Stored stored = insert(batch(4).maxAttempts(2));
    List<ClaimedJob> claimed = claim(NODE_A, 4, at(1));
    ClaimedJob timedOut = claimed.get(0);
    ClaimedJob lost = claimed.get(1);
    ClaimedJob givenBack = claimed.get(2);
    ClaimedJob neverStarted = claimed.get(3);
    store.complete(
        List.of(
            outcome(timedOut, Kind.RETRY, at(2)).asTimedOut().withStart(at(1)),
            outcome(givenBack, Kind.RELEASED, at(2)).withStart(at(1)),
            outcome(neverStarted, Kind.RELEASED, at(2))),
        at(2));
    store.requeueExpired(at(1).plus(LEASE).plusSeconds(1), 10);
    ClaimedJob timedOutAgain = jobNamed(claim(NODE_B, 4, at(400)), timedOut.id());
    store.complete(
        List.of(outcome(timedOutAgain, Kind.FAILED, at(401)).asTimedOut().withStart(at(400))),
        at(401));

    List<JobAttempt> outOfTime = store.listJobAttempts(timedOut.id());
    assertEquals(
        List.of(JobAttempt.Outcome.TIMED_OUT, JobAttempt.Outcome.TIMED_OUT),
        outOfTime.stream().map(JobAttempt::outcome).toList(),
        "a failed attempt that timed out says so, once");
    assertEquals(List.of(1, 2), outOfTime.stream().map(JobAttempt::attempt).toList());
    assertEquals(Optional.of("failure of " + timedOut.id()), outOfTime.get(1).error());
    List<JobAttempt> leaseLost = store.listJobAttempts(lost.id());
    assertEquals(1, leaseLost.size());
    assertEquals(JobAttempt.Outcome.LEASE_LOST, leaseLost.get(0).outcome());
    assertEquals(NODE_A, leaseLost.get(0).nodeId());
    assertEquals(at(1), leaseLost.get(0).startedAt());
    assertEquals(at(1).plus(LEASE).plusSeconds(1), leaseLost.get(0).endedAt());
    assertTrue(leaseLost.get(0).error().orElseThrow().contains("lease expired"));
    List<JobAttempt> released = store.listJobAttempts(givenBack.id());
    assertEquals(
        List.of(
            new JobAttempt(
                givenBack.id(),
                1,
                NODE_A,
                at(1),
                at(2),
                JobAttempt.Outcome.RELEASED,
                Optional.empty())),
        released);
    assertEquals(
        List.of(),
        store.listJobAttempts(neverStarted.id()),
        "a job given back before it started made no attempt");
    assertEquals(4, batchOf(stored.id()).progress().total());
  }

  @Test
  void listJobAttempts_aLeaseLostWithNoAttemptLeft_isTheFailedJobsLastAttempt() {
    Stored stored = insert(batch(1).maxAttempts(1));
    ClaimedJob job = claim(NODE_A, 1, at(1)).get(0);
    store.requeueExpired(at(1).plus(LEASE).plusSeconds(1), 10);

    assertEquals(JobStatus.FAILED, jobOf(stored.id(), job.id()).status());
    assertEquals(
        List.of(JobAttempt.Outcome.LEASE_LOST),
        store.listJobAttempts(job.id()).stream().map(JobAttempt::outcome).toList());
    store.retryFailed(stored.id(), at(400));
    assertEquals(
        List.of(JobAttempt.Outcome.LEASE_LOST),
        store.listJobAttempts(job.id()).stream().map(JobAttempt::outcome).toList(),
        "retryFailed keeps it as it was, once");
  }

  @Test
  void listJobAttempts_cancelledWhileRunning_isACancelledAttempt_butCancelledWhileQueuedIsNone() {
    Stored stored = insert(batch(2));
    ClaimedJob running = claim(NODE_A, 1, at(1)).get(0);
    JobId queued = stored.jobs().get(1).id();
    store.cancelBatch(stored.id(), at(2));
    store.complete(List.of(outcome(running, Kind.SUCCEEDED, at(3)).withStart(at(1))), at(3));

    assertEquals(
        List.of(
            new JobAttempt(
                running.id(),
                1,
                NODE_A,
                at(1),
                at(3),
                JobAttempt.Outcome.CANCELLED,
                Optional.empty())),
        store.listJobAttempts(running.id()),
        "an outcome that comes after its batch was cancelled ends the attempt cancelled");
    assertEquals(List.of(), store.listJobAttempts(queued));
  }

  @Test
  void listJobAttempts_ofAJobThatNeverRan_isEmpty_ofAnUnknownOrDeletedJob_throws() {
    Stored stored = insert(batch(1));
    JobId id = stored.jobs().get(0).id();
    assertEquals(List.of(), store.listJobAttempts(id));
    ClaimedJob job = claim(NODE_A, 1, at(1)).get(0);
    assertEquals(List.of(), store.listJobAttempts(id), "a running attempt has not ended");
    store.complete(List.of(outcome(job, Kind.SUCCEEDED, at(2))), at(2));
    assertEquals(1, store.listJobAttempts(id).size());

    store.deleteBatch(stored.id());

    assertThrows(JobNotFoundException.class, () -> store.listJobAttempts(id));
    assertThrows(JobNotFoundException.class, () -> store.listJobAttempts(JobId.random()));
    assertThrows(NullPointerException.class, () -> store.listJobAttempts(null));
  }

  @Test
  void purgeHistory_deletesRecordsAndEventsThatEndedBefore_inSteps_butKeepsEachJobsLastAttempt() {
    Stored stored = insert(batch(3).maxAttempts(2));
    List<ClaimedJob> claimed = claim(NODE_A, 3, at(10));
    List<JobOutcome> retries = new ArrayList<>();
    for (ClaimedJob c : claimed) {
      retries.add(outcome(c, Kind.RETRY, at(20)));
    }
    store.complete(retries, at(20));
    List<ClaimedJob> again = claim(NODE_A, 3, at(30));
    List<JobOutcome> successes = new ArrayList<>();
    for (ClaimedJob c : again) {
      successes.add(outcome(c, Kind.SUCCEEDED, at(40)));
    }
    store.complete(successes, at(40));
    // events: CREATED and STARTED at T0, FINISHED at 40; records: three retries ended at 20

    assertEquals(0, store.purgeHistory(at(0), 100), "nothing ended before T0");
    assertEquals(2, store.purgeHistory(at(21), 2), "at most maxRows");
    int rest = store.purgeHistory(at(21), 100);
    assertEquals(3, rest, "the third record and the two events of T0");
    assertEquals(0, store.purgeHistory(at(21), 100));

    for (ClaimedJob c : again) {
      assertEquals(
          List.of(JobAttempt.Outcome.SUCCEEDED),
          store.listJobAttempts(c.id()).stream().map(JobAttempt::outcome).toList());
    }
    assertEquals(
        List.of(BatchEvent.Type.FINISHED),
        store.listBatchEvents(stored.id()).stream().map(BatchEvent::type).toList());
    assertThrows(NullPointerException.class, () -> store.purgeHistory(null, 1));
    assertThrows(IllegalArgumentException.class, () -> store.purgeHistory(at(1), 0));
  }

  // ---------------------------------------------------------------------------------------------
  // stored progress

  @Test
  void heartbeat_storesTheProgressOfRenewedJobs_shownWhileTheirAttemptRuns() {
    Stored stored = insert(batch(3));
    List<ClaimedJob> claimed = claim(NODE_A, 2, at(1));
    ClaimedJob reporting = claimed.get(0);
    ClaimedJob silent = claimed.get(1);
    JobProgress half = new JobProgress(0.5, Optional.of("half way"), at(2));

    store.heartbeat(NODE_A, leases(claimed), at(2).plus(LEASE), Map.of(reporting.id(), half));

    assertEquals(Optional.of(half), jobOf(stored.id(), reporting.id()).progress());
    assertEquals(Optional.empty(), jobOf(stored.id(), silent.id()).progress());
    assertEquals(Optional.empty(), jobOf(stored.id(), stored.jobId(2)).progress());

    JobProgress more = new JobProgress(0.75, Optional.empty(), at(3));
    store.heartbeat(NODE_A, leases(claimed), at(3).plus(LEASE), Map.of(reporting.id(), more));
    store.heartbeat(NODE_A, leases(claimed), at(4).plus(LEASE), Map.of());
    assertEquals(
        Optional.of(more),
        jobOf(stored.id(), reporting.id()).progress(),
        "the latest report, kept by a renewal without one");

    store.complete(List.of(outcome(reporting, Kind.RETRY, at(5))), at(5));
    assertEquals(Optional.empty(), jobOf(stored.id(), reporting.id()).progress(), "queued again");
    ClaimedJob again =
        claim(NODE_B, 3, at(6)).stream()
            .filter(c -> c.id().equals(reporting.id()))
            .findFirst()
            .orElseThrow();
    assertEquals(
        Optional.empty(), jobOf(stored.id(), again.id()).progress(), "a new attempt starts bare");
    store.heartbeat(
        NODE_B,
        Map.of(again.id(), again.fencingToken()),
        at(7).plus(LEASE),
        Map.of(again.id(), new JobProgress(0.1, Optional.of("again"), at(7))));
    store.complete(List.of(outcome(again, Kind.SUCCEEDED, at(8))), at(8));
    assertEquals(
        Optional.empty(), jobOf(stored.id(), again.id()).progress(), "an ended job shows none");
  }

  @Test
  void heartbeat_storesNoProgressForAJobItDoesNotRenew() {
    Stored stored = insert(batch(1));
    ClaimedJob job = claim(NODE_A, 1, at(1)).get(0);
    JobProgress report = new JobProgress(0.5, Optional.of("not mine"), at(2));

    HeartbeatResult result =
        store.heartbeat(
            NODE_B,
            Map.of(job.id(), job.fencingToken()),
            at(2).plus(LEASE),
            Map.of(job.id(), report));
    HeartbeatResult stale =
        store.heartbeat(
            NODE_A,
            Map.of(job.id(), job.fencingToken() + 1),
            at(2).plus(LEASE),
            Map.of(job.id(), report));

    assertEquals(Set.of(job.id()), result.lost());
    assertEquals(Set.of(job.id()), stale.lost());
    assertEquals(Optional.empty(), jobOf(stored.id(), job.id()).progress());
  }

  /** The leases of {@code claimed}: job id to fencing token. */
  private static Map<JobId, Long> leases(List<ClaimedJob> claimed) {
    Map<JobId, Long> leases = new HashMap<>();
    claimed.forEach(c -> leases.put(c.id(), c.fencingToken()));
    return leases;
  }

  @Test
  void purgeHistory_keepsARecordThatStandsForAJobsFinalAttempt() {
    Stored stored = insert(batch(3).maxAttempts(2));
    List<ClaimedJob> claimed = claim(NODE_A, 3, at(1));
    ClaimedJob timedOut = claimed.get(0);
    ClaimedJob lost = claimed.get(1);
    ClaimedJob retried = claimed.get(2);
    store.complete(
        List.of(
            outcome(timedOut, Kind.FAILED, at(2)).asTimedOut(),
            outcome(lost, Kind.RETRY, at(1)), // due again at once: its second, last attempt
            outcome(retried, Kind.RETRY, at(1000))),
        at(2));
    assertEquals(List.of(lost.id()), ids(claim(NODE_A, 3, at(2))));
    store.requeueExpired(at(2).plus(LEASE).plusSeconds(1), 10); // no attempt left: it fails
    store.cancelBatch(stored.id(), at(400)); // the retried job is cancelled while it waits
    assertTrue(batchOf(stored.id()).isFinished());

    int deleted = store.purgeHistory(at(10_000), 100);

    assertEquals(
        0, store.listBatchEvents(stored.id()).size(), "every event went: " + deleted + " rows");
    assertEquals(
        List.of(JobAttempt.Outcome.TIMED_OUT),
        store.listJobAttempts(timedOut.id()).stream().map(JobAttempt::outcome).toList());
    assertEquals(
        List.of(JobAttempt.Outcome.LEASE_LOST),
        store.listJobAttempts(lost.id()).stream().map(JobAttempt::outcome).toList());
    assertEquals(
        List.of(JobAttempt.Outcome.RETRY_SCHEDULED),
        store.listJobAttempts(retried.id()).stream().map(JobAttempt::outcome).toList(),
        "no attempt is made up from the cancelled job's row");
    assertEquals(0, store.purgeHistory(at(10_000), 100));
  }

  @Test
  void listJobAttempts_aClaimGivenBackBeforeItStarted_isNoAttempt_evenOnceTheJobIsCancelled() {
    Stored stored = insert(batch(2));
    ClaimedJob first = claim(NODE_A, 1, at(1)).get(0);
    store.complete(List.of(outcome(first, Kind.RETRY, at(2))), at(2));
    ClaimedJob fetched = jobNamed(claim(NODE_B, 2, at(3)), first.id());
    store.complete(List.of(outcome(fetched, Kind.RELEASED, at(4))), at(4)); // never started

    assertEquals(Optional.empty(), jobOf(stored.id(), first.id()).startedAt());
    store.cancelBatch(stored.id(), at(5));

    assertEquals(
        List.of(JobAttempt.Outcome.RETRY_SCHEDULED),
        store.listJobAttempts(first.id()).stream().map(JobAttempt::outcome).toList());
  }

  @Test
  void jobDurations_areThoseOfTheLatestSucceededAndFailedJobs_fromStartToFinish() {
    Stored stored = insert(batch(4));
    List<ClaimedJob> claimed = claim(NODE_A, 4, at(1));
    store.complete(List.of(outcome(claimed.get(0), Kind.SUCCEEDED, at(5)).withStart(at(2))), at(5));
    store.complete(List.of(outcome(claimed.get(1), Kind.FAILED, at(11))), at(11));
    store.complete(List.of(outcome(claimed.get(2), Kind.SUCCEEDED, at(2))), at(2));
    store.complete(List.of(outcome(claimed.get(3), Kind.RETRY, at(3))), at(3));

    Map<JobStatus, List<Duration>> all = store.jobDurations(stored.id(), 10);
    assertEquals(
        List.of(Duration.ofSeconds(1), Duration.ofSeconds(3)),
        all.get(JobStatus.SUCCEEDED).stream().sorted().toList());
    assertEquals(List.of(Duration.ofSeconds(10)), all.get(JobStatus.FAILED));
    Map<JobStatus, List<Duration>> latest = store.jobDurations(stored.id(), 1);
    assertEquals(
        List.of(Duration.ofSeconds(1)),
        latest.get(JobStatus.SUCCEEDED),
        "the latest succeeded job in the batch's order");
    assertEquals(List.of(Duration.ofSeconds(10)), latest.get(JobStatus.FAILED));
    assertEquals(
        Map.of(JobStatus.SUCCEEDED, List.of(), JobStatus.FAILED, List.of()),
        store.jobDurations(insert(batch(1)).id(), 10));
    assertThrows(BatchNotFoundException.class, () -> store.jobDurations(BatchId.random(), 1));
    assertThrows(IllegalArgumentException.class, () -> store.jobDurations(stored.id(), 0));
    assertThrows(NullPointerException.class, () -> store.jobDurations(null, 1));
  }

  // ---------------------------------------------------------------------------------------------
  // retrying single jobs

  @Test
  void retryJobs_queuesAFailedJobAgain_reopensItsFinishedBatch_andKeepsItsHistory() {
    Stored stored = insert(batch(3).maxAttempts(1));
    List<ClaimedJob> claimed = claim(NODE_A, 3, at(1));
    store.complete(
        List.of(
            outcome(claimed.get(0), Kind.FAILED, at(2)),
            outcome(claimed.get(1), Kind.SUCCEEDED, at(2)),
            outcome(claimed.get(2), Kind.FAILED, at(2))),
        at(2));
    assertEquals(BatchStatus.PARTIAL, batchOf(stored.id()).status());
    JobId retried = claimed.get(0).id();

    List<Batch> changed = store.retryJobs(List.of(retried, retried), at(5));

    Batch batch = batchOf(stored.id());
    assertEquals(List.of(batch), changed);
    assertEquals(BatchStatus.PROCESSING, batch.status());
    assertEquals(Optional.empty(), batch.completedAt());
    assertEquals(
        new Progress(3, 1, 0, 1, 1, 0), batch.progress(), "the id given twice counts once");
    Job job = jobOf(stored.id(), retried);
    assertEquals(JobStatus.QUEUED, job.status());
    assertEquals(0, job.attempt());
    List<BatchEvent> events = store.listBatchEvents(stored.id());
    assertEquals(BatchEvent.Type.FAILED_JOBS_RETRIED, events.get(events.size() - 1).type());
    assertTrue(events.get(events.size() - 1).detail().startsWith("1 failed"));

    ClaimedJob again = claim(NODE_B, 3, at(6)).get(0);
    assertEquals(retried, again.id());
    assertEquals(1, again.attempt());
    store.complete(List.of(outcome(again, Kind.SUCCEEDED, at(7))), at(7));
    assertEquals(BatchStatus.PARTIAL, batchOf(stored.id()).status(), "the other failure stays");
    assertEquals(
        List.of(JobAttempt.Outcome.FAILED, JobAttempt.Outcome.SUCCEEDED),
        store.listJobAttempts(retried).stream().map(JobAttempt::outcome).toList());
  }

  @Test
  void retryJobs_ofARunningBatch_keepsItRunning() {
    Stored stored = insert(batch(2).maxAttempts(1));
    ClaimedJob failed = claim(NODE_A, 1, at(1)).get(0);
    store.complete(List.of(outcome(failed, Kind.FAILED, at(2))), at(2));

    store.retryJobs(List.of(failed.id()), at(3));

    assertEquals(BatchStatus.PROCESSING, batchOf(stored.id()).status());
    assertEquals(new Progress(2, 2, 0, 0, 0, 0), batchOf(stored.id()).progress());
  }

  @Test
  void retryJobs_isAllOrNothing_andRefusesWhatCannotBeRetried() {
    Stored partial = insert(batch(2).maxAttempts(1));
    List<ClaimedJob> claimed = claim(NODE_A, 2, at(1));
    store.complete(
        List.of(
            outcome(claimed.get(0), Kind.FAILED, at(2)),
            outcome(claimed.get(1), Kind.SUCCEEDED, at(2))),
        at(2));
    Batch before = batchOf(partial.id());
    JobId failed = claimed.get(0).id();
    JobId succeeded = claimed.get(1).id();

    IllegalStateException notFailed =
        assertThrows(
            IllegalStateException.class, () -> store.retryJobs(List.of(failed, succeeded), at(3)));
    assertTrue(notFailed.getMessage().contains(succeeded.toString()), notFailed.getMessage());
    JobId unknown = JobId.random();
    JobNotFoundException missing =
        assertThrows(
            JobNotFoundException.class, () -> store.retryJobs(List.of(failed, unknown), at(3)));
    assertEquals(unknown, missing.jobId());
    assertEquals(before, batchOf(partial.id()), "nothing changed");
    assertEquals(JobStatus.FAILED, jobOf(partial.id(), failed).status());

    Stored cancelled = insert(batch(2).maxAttempts(1));
    ClaimedJob doomed = claim(NODE_A, 1, at(4)).get(0);
    store.complete(List.of(outcome(doomed, Kind.FAILED, at(5))), at(5));
    store.cancelBatch(cancelled.id(), at(6));
    assertThrows(IllegalStateException.class, () -> store.retryJobs(List.of(doomed.id()), at(7)));

    assertThrows(IllegalArgumentException.class, () -> store.retryJobs(List.of(), at(3)));
    assertThrows(NullPointerException.class, () -> store.retryJobs(null, at(3)));
    assertThrows(NullPointerException.class, () -> store.retryJobs(List.of(failed), null));
    assertThrows(
        NullPointerException.class, () -> store.retryJobs(Collections.singletonList(null), at(3)));
  }

  /** Returns the claimed job with this id. */
  private static ClaimedJob jobNamed(List<ClaimedJob> claimed, JobId id) {
    return claimed.stream()
        .filter(c -> c.id().equals(id))
        .findFirst()
        .orElseThrow(() -> new AssertionError("job " + id + " was not claimed"));
  }

  @Test
  void addJobs_appendsQueuedJobsToAPendingBatch_whichRunsThemAfterItsOthers() {
    UUID start = UUID.randomUUID();
    Stored pending =
        new Stored(batch(2).status(BatchStatus.PENDING).build(), consecutiveJobs(start, 2));
    assertTrue(store.insertBatch(pending.batch(), pending.jobs()).created());
    List<NewJob> more = jobs(3);

    Batch changed = store.addJobs(pending.batch().id(), more, 1_000, at(5));

    assertEquals(BatchStatus.PENDING, changed.status());
    assertEquals(Progress.allQueued(5), changed.progress());
    assertEquals(at(5), changed.updatedAt());
    assertEquals(changed, batchOf(pending.batch().id()));
    List<JobId> order = new ArrayList<>(ids(pending.jobs()));
    order.addAll(ids(more));
    assertEquals(order, ids(allJobs(pending.batch().id())));
    assertEquals("payload 2", jobOf(pending.batch().id(), more.get(2).id()).payload());

    store.startBatch(pending.batch().id(), at(6));
    List<ClaimedJob> claimed = claim(NODE_A, 5, at(7));
    assertEquals(order, ids(claimed));
    Map<JobId, Long> leases = new HashMap<>();
    claimed.forEach(job -> leases.put(job.id(), job.fencingToken()));
    assertEquals(Set.of(), store.heartbeat(NODE_A, leases, at(600)).lost());
    List<JobOutcome> outcomes = new ArrayList<>();
    claimed.forEach(job -> outcomes.add(outcome(job, Kind.SUCCEEDED, at(8))));
    assertEquals(Set.of(), store.complete(outcomes, at(8)).rejected());
    assertEquals(BatchStatus.COMPLETED, batchOf(pending.batch().id()).status());

    // deleting the batch frees the ids it was created with and those added to it
    store.deleteBatch(pending.batch().id());
    Batch reuse = batch(2).build();
    List<NewJob> again =
        List.of(new NewJob(pending.jobs().get(0).id(), "a"), new NewJob(more.get(0).id(), "b"));
    assertTrue(store.insertBatch(reuse, again).created());
  }

  @Test
  void addJobs_refusesABatchThatIsNotPending_andAddsNothing() {
    Stored started = insert(batch(2));
    Stored cancelled = insert(batch(1).status(BatchStatus.PENDING));
    store.cancelBatch(cancelled.batch().id(), at(1));

    for (Stored stored : List.of(started, cancelled)) {
      BatchId id = stored.batch().id();
      Batch before = batchOf(id);
      IllegalStateException e =
          assertThrows(IllegalStateException.class, () -> store.addJobs(id, jobs(1), 1_000, at(2)));
      assertTrue(e.getMessage().contains("PENDING"), e.getMessage());
      assertEquals(before, batchOf(id));
      assertEquals(ids(stored.jobs()), ids(allJobs(id)));
    }
    assertThrows(
        BatchNotFoundException.class, () -> store.addJobs(BatchId.random(), jobs(1), 1_000, at(2)));
  }

  @Test
  void addJobs_refusesNoJobs_anIdTwice_aTakenId_andTooMany_andAddsNothing() {
    Stored pending = insert(batch(2).status(BatchStatus.PENDING));
    Stored other = insert(batch(1));
    BatchId id = pending.batch().id();
    NewJob fresh = jobs(1).get(0);

    assertThrows(IllegalArgumentException.class, () -> store.addJobs(id, List.of(), 1_000, at(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> store.addJobs(id, List.of(fresh, fresh), 1_000, at(1)));
    for (NewJob taken : List.of(pending.jobs().get(1), other.jobs().get(0))) {
      List<NewJob> jobs = List.of(jobs(1).get(0), new NewJob(taken.id(), "again"));
      assertThrows(IllegalArgumentException.class, () -> store.addJobs(id, jobs, 1_000, at(1)));
    }
    assertThrows(IllegalArgumentException.class, () -> store.addJobs(id, jobs(2), 3, at(1)));
    List<NewJob> withNull = new ArrayList<>();
    withNull.add(fresh);
    withNull.add(null);
    assertThrows(NullPointerException.class, () -> store.addJobs(id, withNull, 1_000, at(1)));

    assertEquals(Progress.allQueued(2), batchOf(id).progress());
    assertEquals(ids(pending.jobs()), ids(allJobs(id)));
  }

  @Test
  void insertBatch_rejectsAJobIdThatAnotherBatchHolds() {
    List<NewJob> run = consecutiveJobs(UUID.randomUUID(), 3);
    Stored first = new Stored(batch(3).build(), run);
    assertTrue(store.insertBatch(first.batch(), run).created());
    Stored second = insert(batch(2));

    // an id of a batch with consecutive ids, then one of a batch with unrelated ids
    for (NewJob taken : List.of(run.get(1), second.jobs().get(0))) {
      Batch again = batch(2).build();
      List<NewJob> jobs = List.of(jobs(1).get(0), new NewJob(taken.id(), "again"));

      assertThrows(IllegalArgumentException.class, () -> store.insertBatch(again, jobs));

      assertEquals(Optional.empty(), store.findBatch(again.id()));
    }
    assertEquals(ids(run), ids(allJobs(first.batch().id())));
    assertEquals(ids(second.jobs()), ids(allJobs(second.batch().id())));
  }

  /**
   * Ids that differ only in their low half, counting up by one, are what the service gives a
   * batch's jobs: every job of such a batch is found by its id (outcomes, heartbeats, reads), also
   * beside a batch whose ids continue the same run, and after the other is deleted.
   */
  @Test
  void insertBatch_withConsecutiveJobIds_findsEveryJobByItsId() {
    UUID start = new UUID(UUID.randomUUID().getMostSignificantBits(), 0x8000_0000_0000_0010L);
    List<NewJob> run = consecutiveJobs(start, 4);
    List<NewJob> next =
        consecutiveJobs(
            new UUID(start.getMostSignificantBits(), start.getLeastSignificantBits() + 4), 2);
    Batch first = batch(4).build();
    Batch second = batch(2).build();
    assertTrue(store.insertBatch(first, run).created());
    assertTrue(store.insertBatch(second, next).created());

    List<ClaimedJob> claimed = claim(NODE_A, 6, at(1));
    assertEquals(6, claimed.size());
    Map<JobId, Long> leases = new HashMap<>();
    claimed.forEach(job -> leases.put(job.id(), job.fencingToken()));
    HeartbeatResult beat = store.heartbeat(NODE_A, leases, at(600));
    assertEquals(Set.of(), beat.lost());
    List<JobOutcome> outcomes = new ArrayList<>();
    claimed.forEach(job -> outcomes.add(outcome(job, Kind.SUCCEEDED, at(2))));
    assertEquals(Set.of(), store.complete(outcomes, at(2)).rejected());

    assertEquals(ids(run), ids(allJobs(first.id())));
    assertEquals(ids(next), ids(allJobs(second.id())));
    assertEquals(4, batchOf(first.id()).progress().succeeded());
    assertEquals(2, batchOf(second.id()).progress().succeeded());
    store.deleteBatch(first.id());
    assertEquals(ids(next), ids(allJobs(second.id())));
    Batch reuse = batch(1).build();
    assertThrows(
        IllegalArgumentException.class,
        () -> store.insertBatch(reuse, List.of(new NewJob(next.get(1).id(), "again"))));
    assertTrue(store.insertBatch(reuse, List.of(new NewJob(run.get(1).id(), "again"))).created());
  }

  /**
   * The service hands a batch's jobs to the store as {@link NewJobs}, a run of ids that a store may
   * take in without reading each id: every job is still found by its id with its own payload, runs
   * its attempt and counts, and its ids stay taken.
   */
  @Test
  void insertBatch_ofTheServicesNewJobs_keepsEveryJobFindableByItsIdWithItsPayload() {
    NewJobs run = new NewJobs(List.of("a", "b", "c"));
    NewJobs other = new NewJobs(List.of("d"));
    Batch first = batch(3).build();
    Batch second = batch(1).build();
    assertTrue(store.insertBatch(first, run).created());
    assertTrue(store.insertBatch(second, other).created());

    assertEquals(ids(run), ids(allJobs(first.id())));
    for (int i = 0; i < run.size(); i++) {
      assertEquals(run.payload(i), jobOf(first.id(), run.get(i).id()).payload());
    }
    assertEquals("d", jobOf(second.id(), other.get(0).id()).payload());
    List<ClaimedJob> claimed = claim(NODE_A, 4, at(1));
    assertEquals(4, claimed.size());
    List<JobOutcome> outcomes = new ArrayList<>();
    claimed.forEach(job -> outcomes.add(outcome(job, Kind.SUCCEEDED, at(2))));
    assertEquals(Set.of(), store.complete(outcomes, at(2)).rejected());
    assertEquals(3, batchOf(first.id()).progress().succeeded());
    assertEquals(1, batchOf(second.id()).progress().succeeded());
    Batch again = batch(1).build();
    List<NewJob> taken = List.of(new NewJob(run.get(2).id(), "again"));
    assertThrows(IllegalArgumentException.class, () -> store.insertBatch(again, taken));
  }

  @Test
  void insertBatch_rejectsAProcessingBatchWithoutStartTime() {
    Batch started = batch(1).build();
    Batch unstarted =
        new Batch(
            started.id(),
            started.name(),
            started.jobType(),
            started.priority(),
            started.metadata(),
            started.maxConcurrency(),
            started.maxAttempts(),
            started.jobTimeout(),
            started.failurePolicy(),
            started.idempotencyKey(),
            BatchStatus.PROCESSING,
            started.progress(),
            started.createdAt(),
            Optional.empty(),
            started.updatedAt(),
            Optional.empty(),
            Optional.empty());

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> store.insertBatch(unstarted, jobs(1)));

    assertTrue(e.getMessage().contains("start time"), e.getMessage());
    assertEquals(Optional.empty(), store.findBatch(unstarted.id()));
  }

  @Test
  void insertBatch_withOneIdempotencyKeyFromManyThreads_createsOneBatch() throws Exception {
    int threads = 8;
    CountDownLatch start = new CountDownLatch(1);
    List<Callable<InsertResult>> calls = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      Batch batch = batch(3).idempotencyKey("raced").build();
      calls.add(
          () -> {
            start.await();
            return store.insertBatch(batch, jobs(3));
          });
    }

    List<InsertResult> results = runConcurrently(calls, start);

    List<InsertResult> created = results.stream().filter(InsertResult::created).toList();
    assertEquals(1, created.size(), "exactly one call creates the batch");
    BatchId winner = created.get(0).batch().id();
    for (InsertResult result : results) {
      assertEquals(winner, result.batch().id());
    }
    assertEquals(1, store.listBatches(BatchQuery.all()).items().size());
    assertEquals(3, store.countQueuedJobs());
  }

  // ---------------------------------------------------------------------------------------------
  // findBatch, listBatches, listJobs

  @Test
  void findBatch_unknownId_isEmpty() {
    insert(batch(1));

    assertEquals(Optional.empty(), store.findBatch(BatchId.random()));
  }

  @Test
  void listBatches_returnsNewestFirst() {
    Stored middle = insert(batch(1).createdAt(at(20)));
    Stored oldest = insert(batch(1).createdAt(at(10)));
    Stored newest = insert(batch(1).createdAt(at(30)));

    Page<Batch> page = store.listBatches(BatchQuery.all());

    assertEquals(List.of(newest.id(), middle.id(), oldest.id()), batchIds(page.items()));
    assertFalse(page.hasMore());
  }

  @Test
  void listBatches_withEqualCreationTimes_pagesThroughEveryBatchOnce() {
    Set<BatchId> all = new HashSet<>();
    for (int i = 0; i < 7; i++) {
      all.add(insert(batch(1).createdAt(at(5))).id());
    }

    List<BatchId> paged = new ArrayList<>();
    for (int offset = 0; offset < 7; offset += 2) {
      paged.addAll(batchIds(store.listBatches(BatchQuery.builder().page(offset, 2).build())));
    }

    assertEquals(7, paged.size());
    assertEquals(all, new HashSet<>(paged));
    assertEquals(paged, batchIds(store.listBatches(BatchQuery.all())), "the order is stable");
  }

  @Test
  void listBatches_filtersByStatus() {
    Stored pending = insert(batch(1).status(BatchStatus.PENDING).jobType("p"));
    Stored processing = insert(batch(2).jobType("r"));
    Stored completed = insert(batch(1).jobType("c"));
    claimAndComplete("c", at(1), Kind.SUCCEEDED);
    Stored cancelled = insert(batch(1).jobType("x"));
    store.cancelBatch(cancelled.id(), at(2));

    assertEquals(
        List.of(pending.id()),
        batchIds(store.listBatches(BatchQuery.builder().status(BatchStatus.PENDING).build())));
    assertEquals(
        Set.of(processing.id(), cancelled.id()),
        Set.copyOf(
            batchIds(
                store.listBatches(
                    BatchQuery.builder()
                        .status(BatchStatus.PROCESSING, BatchStatus.CANCELLED)
                        .build()))));
    assertEquals(
        List.of(completed.id()),
        batchIds(store.listBatches(BatchQuery.builder().status(BatchStatus.COMPLETED).build())));
    assertEquals(
        List.of(),
        batchIds(store.listBatches(BatchQuery.builder().status(BatchStatus.PARTIAL).build())));
    assertEquals(4, store.listBatches(BatchQuery.all()).items().size());
  }

  @Test
  void listBatches_filtersByJobType() {
    Stored a1 = insert(batch(1).jobType("alpha").createdAt(at(1)));
    insert(batch(1).jobType("beta").createdAt(at(2)));
    Stored a2 = insert(batch(1).jobType("alpha").createdAt(at(3)));
    insert(batch(1).jobType("alphabet").createdAt(at(4)));

    Page<Batch> page = store.listBatches(BatchQuery.builder().jobType("alpha").build());

    assertEquals(List.of(a2.id(), a1.id()), batchIds(page.items()));
  }

  @Test
  void listBatches_filtersByEveryMetadataPair() {
    Stored both = insert(batch(1).metadata("tenant", "acme").metadata("env", "prod"));
    Stored tenantOnly = insert(batch(1).metadata("tenant", "acme"));
    insert(batch(1).metadata("tenant", "acme-corp").metadata("env", "prod"));
    insert(batch(1).metadata("env", "prod"));
    insert(batch(1).metadata("tenant", "'; DROP TABLE x; --"));

    Set<BatchId> tenant =
        Set.copyOf(
            batchIds(store.listBatches(BatchQuery.builder().metadata("tenant", "acme").build())));
    List<BatchId> tenantAndEnv =
        batchIds(
            store.listBatches(
                BatchQuery.builder().metadata("tenant", "acme").metadata("env", "prod").build()));
    List<BatchId> none =
        batchIds(store.listBatches(BatchQuery.builder().metadata("tenant", "%").build()));

    assertEquals(Set.of(both.id(), tenantOnly.id()), tenant);
    assertEquals(List.of(both.id()), tenantAndEnv);
    assertEquals(List.of(), none);
  }

  @Test
  void listBatches_filtersByCreationTime_afterInclusiveBeforeExclusive() {
    Stored t10 = insert(batch(1).createdAt(at(10)));
    Stored t20 = insert(batch(1).createdAt(at(20)));
    Stored t30 = insert(batch(1).createdAt(at(30)));
    insert(batch(1).createdAt(at(40)));

    Page<Batch> page =
        store.listBatches(BatchQuery.builder().createdAfter(at(20)).createdBefore(at(40)).build());
    Page<Batch> before = store.listBatches(BatchQuery.builder().createdBefore(at(30)).build());
    Page<Batch> after = store.listBatches(BatchQuery.builder().createdAfter(at(30)).build());

    assertEquals(List.of(t30.id(), t20.id()), batchIds(page.items()));
    assertEquals(List.of(t20.id(), t10.id()), batchIds(before.items()));
    assertEquals(2, after.items().size());
  }

  @Test
  void listBatches_pagesWithHasMore() {
    List<BatchId> newestFirst = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      newestFirst.add(0, insert(batch(1).createdAt(at(i))).id());
    }

    Page<Batch> first = store.listBatches(BatchQuery.builder().page(0, 2).build());
    Page<Batch> second = store.listBatches(BatchQuery.builder().page(2, 2).build());
    Page<Batch> last = store.listBatches(BatchQuery.builder().page(4, 2).build());
    Page<Batch> exact = store.listBatches(BatchQuery.builder().page(0, 5).build());
    Page<Batch> beyond = store.listBatches(BatchQuery.builder().page(9, 2).build());

    assertEquals(newestFirst.subList(0, 2), batchIds(first.items()));
    assertTrue(first.hasMore());
    assertEquals(0, first.offset());
    assertEquals(2, first.limit());
    assertEquals(newestFirst.subList(2, 4), batchIds(second.items()));
    assertTrue(second.hasMore());
    assertEquals(2, second.offset());
    assertEquals(newestFirst.subList(4, 5), batchIds(last.items()));
    assertFalse(last.hasMore());
    assertEquals(newestFirst, batchIds(exact.items()));
    assertFalse(exact.hasMore());
    assertEquals(List.of(), beyond.items());
    assertFalse(beyond.hasMore());
    assertEquals(9, beyond.offset());
  }

  @Test
  void listJobs_returnsOnlyTheBatchsJobsInTheirOrder() {
    // random (not time-ordered) ids, so that a store sorting by id would fail
    List<NewJob> jobs = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      jobs.add(new NewJob(new JobId(UUID.randomUUID()), "job " + i));
    }
    Batch batch = newBatch(20, BatchStatus.PENDING);
    insert(batch(3));
    store.insertBatch(batch, jobs);
    insert(batch(4));

    List<Job> listed = allJobs(batch.id());

    assertEquals(ids(jobs), ids(listed));
    assertEquals(
        jobs.stream().map(NewJob::payload).toList(), listed.stream().map(Job::payload).toList());
  }

  @Test
  void listJobs_filtersByStatus() {
    Stored stored = insert(batch(6));
    List<ClaimedJob> claimed = claim(NODE_A, 4, at(1));
    store.complete(
        List.of(
            JobOutcome.succeeded(claimed.get(0), "ok"),
            JobOutcome.failed(claimed.get(1), "boom"),
            JobOutcome.succeeded(claimed.get(2), "ok")),
        at(2));

    List<Job> succeeded =
        store.listJobs(stored.id(), JobQuery.withStatus(JobStatus.SUCCEEDED)).items();
    List<Job> open =
        store
            .listJobs(stored.id(), JobQuery.withStatus(JobStatus.QUEUED, JobStatus.PROCESSING))
            .items();
    List<Job> cancelled =
        store.listJobs(stored.id(), JobQuery.withStatus(JobStatus.CANCELLED)).items();

    assertEquals(Set.of(claimed.get(0).id(), claimed.get(2).id()), Set.copyOf(ids(succeeded)));
    assertTrue(succeeded.stream().allMatch(j -> j.status() == JobStatus.SUCCEEDED));
    assertEquals(3, open.size());
    assertTrue(open.stream().noneMatch(j -> j.status().isFinal()));
    assertEquals(List.of(), cancelled);
    assertEquals(
        ids(allJobs(stored.id()).stream().filter(j -> !j.status().isFinal()).toList()), ids(open));
  }

  @Test
  void listJobs_pagesWithHasMore() {
    Stored stored = insert(batch(5).maxConcurrency(5));
    List<ClaimedJob> claimed = claim(NODE_A, 5, at(1));
    Map<JobId, ClaimedJob> byId = byId(claimed);
    // jobs 0, 2 and 4 (in batch order) succeed
    List<JobOutcome> outcomes = new ArrayList<>();
    for (int i = 0; i < 5; i += 2) {
      outcomes.add(JobOutcome.succeeded(byId.get(stored.jobId(i)), "ok"));
    }
    store.complete(outcomes, at(2));
    List<JobId> order = ids(stored.jobs());

    Page<Job> first = store.listJobs(stored.id(), JobQuery.all().page(0, 2));
    Page<Job> second = store.listJobs(stored.id(), JobQuery.all().page(2, 2));
    Page<Job> last = store.listJobs(stored.id(), JobQuery.all().page(4, 2));
    Page<Job> beyond = store.listJobs(stored.id(), JobQuery.all().page(7, 2));
    JobQuery succeeded = JobQuery.withStatus(JobStatus.SUCCEEDED);
    Page<Job> filteredFirst = store.listJobs(stored.id(), succeeded.page(0, 2));
    Page<Job> filteredLast = store.listJobs(stored.id(), succeeded.page(2, 2));
    // two statuses, far into the matches: every one of jobs 0 to 4 matches, job 4 comes after
    JobQuery ranOrRunning = JobQuery.withStatus(JobStatus.SUCCEEDED, JobStatus.PROCESSING);
    Page<Job> mixedFourth = store.listJobs(stored.id(), ranOrRunning.page(3, 1));

    assertEquals(order.subList(0, 2), ids(first.items()));
    assertTrue(first.hasMore());
    assertEquals(order.subList(2, 4), ids(second.items()));
    assertTrue(second.hasMore());
    assertEquals(2, second.offset());
    assertEquals(2, second.limit());
    assertEquals(order.subList(4, 5), ids(last.items()));
    assertFalse(last.hasMore());
    assertEquals(List.of(), beyond.items());
    assertFalse(beyond.hasMore());
    assertEquals(List.of(order.get(0), order.get(2)), ids(filteredFirst.items()));
    assertTrue(filteredFirst.hasMore());
    assertEquals(List.of(order.get(4)), ids(filteredLast.items()));
    assertFalse(filteredLast.hasMore());
    assertEquals(List.of(order.get(3)), ids(mixedFourth.items()));
    assertTrue(mixedFourth.hasMore());
  }

  @Test
  void listJobs_unknownBatch_throwsBatchNotFound() {
    insert(batch(1));
    BatchId unknown = BatchId.random();

    BatchNotFoundException e =
        assertThrows(BatchNotFoundException.class, () -> store.listJobs(unknown, JobQuery.all()));

    assertEquals(unknown, e.batchId());
  }

  // ---------------------------------------------------------------------------------------------
  // startBatch

  @Test
  void startBatch_movesPendingBatchToProcessing_andMakesItsJobsClaimable() {
    Stored stored = insert(batch(2).status(BatchStatus.PENDING));
    assertEquals(List.of(), claim(NODE_A, 5, at(1)), "a pending batch's jobs are not claimable");

    Batch started = store.startBatch(stored.id(), at(2));

    assertEquals(BatchStatus.PROCESSING, started.status());
    assertEquals(Optional.of(at(2)), started.startedAt());
    assertEquals(at(2), started.updatedAt());
    assertEquals(Optional.empty(), started.completedAt());
    assertEquals(Progress.allQueued(2), started.progress());
    assertEquals(started, batchOf(stored.id()));
    assertEquals(Set.copyOf(ids(stored.jobs())), Set.copyOf(claimedIds(claim(NODE_A, 5, at(3)))));
  }

  @Test
  void startBatch_whenNotPending_throwsIllegalStateAndChangesNothing() {
    Stored processing = insert(batch(1).jobType("p"));
    Stored completed = insert(batch(1).jobType("c"));
    claimAndComplete("c", at(1), Kind.SUCCEEDED);
    Stored cancelled = insert(batch(1).status(BatchStatus.PENDING));
    store.cancelBatch(cancelled.id(), at(2));

    for (Stored stored : List.of(processing, completed, cancelled)) {
      Batch before = batchOf(stored.id());
      assertThrows(
          IllegalStateException.class,
          () -> store.startBatch(stored.id(), at(3)),
          before.status().toString());
      assertEquals(before, batchOf(stored.id()));
    }
  }

  @Test
  void startBatch_unknownBatch_throwsBatchNotFound() {
    BatchId unknown = BatchId.random();

    BatchNotFoundException e =
        assertThrows(BatchNotFoundException.class, () -> store.startBatch(unknown, at(1)));

    assertEquals(unknown, e.batchId());
  }

  // ---------------------------------------------------------------------------------------------
  // claim

  @Test
  void claim_takesOnlyJobsOfProcessingBatches() {
    insert(batch(3).status(BatchStatus.PENDING));
    Stored cancelled = insert(batch(3));
    store.cancelBatch(cancelled.id(), at(1));
    Stored processing = insert(batch(2));

    List<ClaimedJob> claimed = claim(NODE_A, 10, at(2));

    assertEquals(Set.copyOf(ids(processing.jobs())), Set.copyOf(claimedIds(claimed)));
    assertTrue(claimed.stream().allMatch(c -> c.batchId().equals(processing.id())));
  }

  @Test
  void claim_takesAtMostMaxJobs() {
    Stored stored = insert(batch(10).maxConcurrency(10));

    List<ClaimedJob> first = claim(NODE_A, 3, at(1));
    List<ClaimedJob> second = claim(NODE_B, 4, at(2));
    List<ClaimedJob> rest = claim(NODE_A, 100, at(3));

    assertEquals(3, first.size());
    assertEquals(4, second.size());
    assertEquals(3, rest.size());
    assertEquals(List.of(), claim(NODE_B, 100, at(4)));
    assertEquals(new Progress(10, 0, 10, 0, 0, 0), batchOf(stored.id()).progress());
  }

  @Test
  void claim_leasesEachJobToTheNodeWithAttemptOne() {
    Stored stored = insert(batch(3).maxConcurrency(3));

    List<ClaimedJob> claimed = claim(NODE_A, 2, at(7));

    assertEquals(2, claimed.size());
    for (ClaimedJob c : claimed) {
      assertEquals(stored.id(), c.batchId());
      assertEquals(1, c.attempt());
      assertEquals(stored.payloadOf(c.id()), c.payload());
      Job job = jobOf(stored.id(), c.id());
      assertEquals(JobStatus.PROCESSING, job.status());
      assertEquals(1, job.attempt());
      assertEquals(Optional.of(NODE_A), job.nodeId());
      assertEquals(Optional.of(at(7)), job.startedAt());
      assertEquals(at(7), job.updatedAt());
      assertEquals(Optional.empty(), job.finishedAt());
    }
    Batch batch = batchOf(stored.id());
    assertEquals(new Progress(3, 1, 2, 0, 0, 0), batch.progress());
    assertEquals(BatchStatus.PROCESSING, batch.status());
  }

  @Test
  void claim_respectsBatchConcurrencyAcrossNodes() {
    Stored stored = insert(batch(10).maxConcurrency(3));

    List<ClaimedJob> a = claim(NODE_A, 2, at(1));
    List<ClaimedJob> b = claim(NODE_B, 5, at(2));
    List<ClaimedJob> c = claim(NODE_C, 5, at(3));

    assertEquals(2, a.size());
    assertEquals(1, b.size(), "node B may take only the one slot node A left");
    assertEquals(List.of(), c);
    assertEquals(3, batchOf(stored.id()).progress().processing());

    store.complete(List.of(JobOutcome.succeeded(a.get(0), "ok")), at(4));
    List<ClaimedJob> afterOneEnded = claim(NODE_C, 5, at(5));

    assertEquals(1, afterOneEnded.size());
    assertEquals(3, batchOf(stored.id()).progress().processing());
  }

  @Test
  void claim_leavesJobTypesTheRequestDoesNotName() {
    Stored named = insert(batch(2).jobType("named"));
    Stored unnamed = insert(batch(2).jobType("unnamed"));
    Stored zero = insert(batch(2).jobType("zero"));

    List<ClaimedJob> claimed =
        store.claim(request(NODE_A, 10, at(1), Map.of("named", 10, "zero", 0)));

    assertEquals(Set.copyOf(ids(named.jobs())), Set.copyOf(claimedIds(claimed)));
    assertEquals(Progress.allQueued(2), batchOf(unnamed.id()).progress());
    assertEquals(Progress.allQueued(2), batchOf(zero.id()).progress());
    List<ClaimedJob> byOther = store.claim(request(NODE_B, 10, at(2), Map.of("unnamed", 10)));
    assertEquals(Set.copyOf(ids(unnamed.jobs())), Set.copyOf(claimedIds(byOther)));
  }

  @Test
  void claim_capsEachJobTypeAtItsLimit_overAllBatches() {
    Stored x1 = insert(batch(5).jobType("x").createdAt(at(0)));
    Stored x2 = insert(batch(5).jobType("x").createdAt(at(1)));
    Stored y = insert(batch(5).jobType("y").createdAt(at(2)));

    List<ClaimedJob> claimed = store.claim(request(NODE_A, 100, at(3), Map.of("x", 3, "y", 10)));

    long xs =
        claimed.stream()
            .filter(c -> c.batchId().equals(x1.id()) || c.batchId().equals(x2.id()))
            .count();
    long ys = claimed.stream().filter(c -> c.batchId().equals(y.id())).count();
    assertEquals(3, xs, "the limit of 3 counts over both batches of type x");
    assertEquals(5, ys);
    assertEquals(8, claimed.size());
    assertEquals(
        3, batchOf(x1.id()).progress().processing() + batchOf(x2.id()).progress().processing());
  }

  @Test
  void claim_servesHigherPrioritiesFirst() {
    // inserted (and started) lowest priority first, all at the same time
    Map<BatchId, Priority> priorities = new HashMap<>();
    for (Priority priority :
        List.of(Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT)) {
      priorities.put(insert(batch(1).priority(priority)).id(), priority);
    }

    List<Priority> served = new ArrayList<>();
    for (int i = 1; i <= 4; i++) {
      List<ClaimedJob> claimed = claim(NODE_A, 1, at(i));
      assertEquals(1, claimed.size());
      served.add(priorities.get(claimed.get(0).batchId()));
    }

    assertEquals(List.of(Priority.URGENT, Priority.HIGH, Priority.NORMAL, Priority.LOW), served);
  }

  @Test
  void claim_letsBatchesOfEqualPriorityTakeTurns() {
    Stored a = insert(batch(10).startedAt(at(0)));
    Stored b = insert(batch(10).startedAt(at(1)));

    List<BatchId> served = new ArrayList<>();
    for (int i = 10; i < 16; i++) {
      List<ClaimedJob> claimed = claim(NODE_A, 1, at(i));
      assertEquals(1, claimed.size());
      served.add(claimed.get(0).batchId());
    }

    // a was started first; after that each claim goes to the batch served least recently
    assertEquals(List.of(a.id(), b.id(), a.id(), b.id(), a.id(), b.id()), served);
  }

  @Test
  void claim_breaksDispatchKeyTiesByBatchId() {
    Stored first = insert(batch(3).startedAt(at(0)));
    Stored second = insert(batch(3).startedAt(at(0)));
    BatchId lower = first.id().compareTo(second.id()) < 0 ? first.id() : second.id();

    List<ClaimedJob> claimed = claim(NODE_A, 1, at(5));

    assertEquals(1, claimed.size());
    assertEquals(lower, claimed.get(0).batchId());
  }

  @Test
  void claim_breaksDispatchKeyTiesByLeastRecentlyServed_evenWithinOneMillisecond() {
    Stored first = insert(batch(10).startedAt(at(0)));
    Stored second = insert(batch(10).startedAt(at(0)));
    BatchId lower = first.id().compareTo(second.id()) < 0 ? first.id() : second.id();
    BatchId higher = lower.equals(first.id()) ? second.id() : first.id();

    List<BatchId> served = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      List<ClaimedJob> claimed = claim(NODE_A, 1, at(5));
      assertEquals(1, claimed.size());
      served.add(claimed.get(0).batchId());
    }

    // from the second claim on, both keys are equal: the batch served least recently goes first
    assertEquals(List.of(lower, higher, lower, higher), served);
  }

  @Test
  void claim_agesALowBatchPastANormalOneAfterMoreThanOneAgingStep() {
    // key = rank * agingStep + lastServedAt: LOW 3 * 60s + 0s beats NORMAL 2 * 60s + 61s
    Stored low = insert(batch(1).priority(Priority.LOW).startedAt(at(0)));
    insert(batch(1).priority(Priority.NORMAL).startedAt(at(61)));
    ClaimRequest request = request(NODE_A, 1, at(100));
    assertTrue(
        request.dispatchKey(Priority.LOW, at(0)) < request.dispatchKey(Priority.NORMAL, at(61)));

    List<ClaimedJob> claimed = store.claim(request);

    assertEquals(1, claimed.size());
    assertEquals(low.id(), claimed.get(0).batchId());
  }

  @Test
  void claim_keepsPriorityOrderWhileTheWaitIsUnderOneAgingStep() {
    // key = rank * agingStep + lastServedAt: NORMAL 2 * 60s + 59s beats LOW 3 * 60s + 0s
    insert(batch(1).priority(Priority.LOW).startedAt(at(0)));
    Stored normal = insert(batch(1).priority(Priority.NORMAL).startedAt(at(59)));
    ClaimRequest request = request(NODE_A, 1, at(100));
    assertTrue(
        request.dispatchKey(Priority.NORMAL, at(59)) < request.dispatchKey(Priority.LOW, at(0)));

    List<ClaimedJob> claimed = store.claim(request);

    assertEquals(1, claimed.size());
    assertEquals(normal.id(), claimed.get(0).batchId());
  }

  @Test
  void claim_takesJobsOfABatchInTheirOrder() {
    // random (not time-ordered) ids, so that a store ordering by id would fail
    List<NewJob> jobs = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      jobs.add(new NewJob(new JobId(UUID.randomUUID()), "job " + i));
    }
    Batch batch = batch(6).maxConcurrency(6).build();
    store.insertBatch(batch, jobs);

    Set<JobId> firstTwo = Set.copyOf(claimedIds(claim(NODE_A, 2, at(1))));
    List<JobId> oneByOne = new ArrayList<>();
    for (int i = 2; i < 6; i++) {
      oneByOne.addAll(claimedIds(claim(NODE_A, 1, at(i))));
    }

    assertEquals(Set.of(jobs.get(0).id(), jobs.get(1).id()), firstTwo);
    assertEquals(ids(jobs).subList(2, 6), oneByOne);
  }

  @Test
  void claim_takesReturnedJobsBeforeLaterOnes() {
    Stored stored = insert(batch(6).maxConcurrency(6));
    Map<JobId, ClaimedJob> claimed = byId(claim(NODE_A, 3, at(1)));
    assertEquals(Set.copyOf(ids(stored.jobs()).subList(0, 3)), claimed.keySet());
    store.complete(
        List.of(
            JobOutcome.released(claimed.get(stored.jobId(1))),
            JobOutcome.retry(claimed.get(stored.jobId(0)), "again", at(2))),
        at(2));

    List<JobId> next = new ArrayList<>();
    for (int i = 3; i < 6; i++) {
      next.addAll(claimedIds(claim(NODE_A, 1, at(i))));
    }

    assertEquals(List.of(stored.jobId(0), stored.jobId(1), stored.jobId(3)), next);
  }

  @Test
  void claim_increasesTheAttemptAndHandsOutFreshDistinctTokens() {
    Stored first = insert(batch(4).maxConcurrency(4).jobType("one"));
    insert(batch(4).maxConcurrency(4).jobType("two"));
    List<ClaimedJob> claimed = new ArrayList<>();
    claimed.addAll(store.claim(request(NODE_A, 3, at(1), Map.of("one", 3, "two", 0))));
    claimed.addAll(store.claim(request(NODE_B, 8, at(1), Map.of("one", 8, "two", 8))));
    assertEquals(8, claimed.size());
    Set<Long> tokens = new HashSet<>();
    claimed.forEach(c -> tokens.add(c.fencingToken()));
    assertEquals(8, tokens.size(), "every claim gets its own token");

    ClaimedJob retried =
        claimed.stream().filter(c -> c.batchId().equals(first.id())).findFirst().orElseThrow();
    store.complete(List.of(JobOutcome.retry(retried, "again", at(2))), at(2));
    List<ClaimedJob> again = store.claim(request(NODE_A, 1, at(3), Map.of("one", 1)));

    assertEquals(1, again.size());
    assertEquals(retried.id(), again.get(0).id());
    assertEquals(2, again.get(0).attempt());
    assertFalse(tokens.contains(again.get(0).fencingToken()), "a new claim gets a new token");
    assertEquals(2, jobOf(first.id(), retried.id()).attempt());
  }

  @Test
  void claim_leavesARetryUntilItsRetryTime() {
    Stored stored = insert(batch(1));
    ClaimedJob first = claim(NODE_A, 1, at(1)).get(0);
    store.complete(List.of(JobOutcome.retry(first, "try later", at(60))), at(2));

    List<ClaimedJob> early = claim(NODE_A, 1, at(30));
    List<ClaimedJob> almost = claim(NODE_B, 1, at(60).minusMillis(1));
    Job waiting = jobOf(stored.id(), first.id());
    List<ClaimedJob> due = claim(NODE_B, 1, at(60));

    assertEquals(List.of(), early);
    assertEquals(List.of(), almost);
    assertEquals(JobStatus.QUEUED, waiting.status());
    assertEquals(1, due.size(), "a job is due once now reaches its retry time");
    assertEquals(first.id(), due.get(0).id());
    assertEquals(2, due.get(0).attempt());
  }

  @Test
  void claim_withNothingDue_returnsNoJobs() {
    assertEquals(List.of(), claim(NODE_A, 5, at(1)));
    insert(batch(2).status(BatchStatus.PENDING));
    assertEquals(List.of(), claim(NODE_A, 5, at(2)));
  }

  // ---------------------------------------------------------------------------------------------
  // complete

  @Test
  void complete_withStaleToken_isRejectedAndChangesNothing() {
    Stored stored = insert(batch(3).maxAttempts(3));
    ClaimedJob old = claim(NODE_A, 1, at(1)).get(0);
    store.requeueExpired(at(1).plus(LEASE).plusSeconds(1), 10);
    ClaimedJob current = claim(NODE_B, 1, at(400)).get(0);
    assertEquals(old.id(), current.id());
    Batch before = batchOf(stored.id());
    Job jobBefore = jobOf(stored.id(), old.id());
    ClaimedJob forged =
        new ClaimedJob(
            current.id(), current.batchId(), current.payload(), 2, current.fencingToken() + 1);
    ClaimedJob neverClaimed =
        new ClaimedJob(stored.jobId(2), stored.id(), "x", 1, current.fencingToken());
    ClaimedJob unknown = new ClaimedJob(JobId.random(), stored.id(), "x", 1, 1);

    CompletionResult result =
        store.complete(
            List.of(
                JobOutcome.succeeded(old, "stale"),
                JobOutcome.failed(forged, "forged"),
                JobOutcome.succeeded(neverClaimed, "never"),
                JobOutcome.succeeded(unknown, "unknown")),
            at(401));

    assertEquals(Set.of(old.id(), stored.jobId(2), unknown.id()), result.rejected());
    assertEquals(List.of(), result.batches());
    assertEquals(before, batchOf(stored.id()));
    assertEquals(jobBefore, jobOf(stored.id(), old.id()));
    assertEquals(JobStatus.QUEUED, jobOf(stored.id(), stored.jobId(2)).status());
    CompletionResult accepted =
        store.complete(List.of(JobOutcome.succeeded(current, "fresh")), at(402));
    assertEquals(Set.of(), accepted.rejected());
    assertEquals(Optional.of("fresh"), jobOf(stored.id(), old.id()).result());
  }

  // ---------------------------------------------------------------------------------------------
  // slots, and jobs fetched ahead

  /** Claims {@code slots} jobs for free slots and fetches up to {@code ahead} more. */
  protected List<ClaimedJob> fetch(String nodeId, int slots, int ahead, Instant now) {
    return new ArrayList<>(
        store.claim(
            new ClaimRequest(
                nodeId,
                slots,
                now,
                now.plus(LEASE),
                AGING_STEP,
                Map.of(JOB_TYPE, slots),
                Map.of(JOB_TYPE, ahead),
                Map.of())));
  }

  private static List<ClaimedJob> withSlot(List<ClaimedJob> claimed, boolean slot) {
    return claimed.stream().filter(c -> c.holdsSlot() == slot).toList();
  }

  @Test
  void fetchAhead_takesJobsBeyondTheSlotsWithoutTakingAnyOfTheBatchsSlots() {
    Stored stored = insert(batch(20).maxConcurrency(2));

    List<ClaimedJob> a = fetch(NODE_A, 2, 5, at(1));

    assertEquals(2, withSlot(a, true).size(), "the two free slots");
    assertEquals(5, withSlot(a, false).size(), "five fetched ahead");
    assertEquals(stored.jobs().subList(0, 7).stream().map(NewJob::id).toList(), claimedIds(a));
    // fetched jobs are leased to the node, so they count as processing
    assertEquals(new Progress(20, 13, 7, 0, 0, 0), batchOf(stored.id()).progress());
    for (ClaimedJob job : a) {
      assertEquals(Optional.of(NODE_A), jobOf(stored.id(), job.id()).nodeId());
    }
    assertEquals(List.of(), claim(NODE_B, 5, at(2)), "both slots are held by node A");

    // a job that passes its slot on to a job fetched ahead keeps it
    store.complete(List.of(JobOutcome.succeeded(a.get(0), "ok").withoutSlot()), at(3));
    assertEquals(List.of(), claim(NODE_B, 5, at(4)), "the slot passed on inside node A");

    // the last job run in it gives it back
    store.complete(List.of(JobOutcome.succeeded(a.get(2), "ok")), at(5));
    List<ClaimedJob> b = claim(NODE_B, 5, at(6));
    assertEquals(1, b.size(), "node B gets the slot node A gave back");
    assertTrue(b.get(0).holdsSlot());
  }

  @Test
  void fetchAhead_onlyWhenTheBatchIsTheOnlyOneWithQueuedJobsOfTheRequestsTypes() {
    Stored first = insert(batch(10));
    insert(batch(10).jobType("other"));

    List<ClaimedJob> both =
        new ArrayList<>(
            store.claim(
                new ClaimRequest(
                    NODE_A,
                    1,
                    at(1),
                    at(1).plus(LEASE),
                    AGING_STEP,
                    Map.of(JOB_TYPE, 1, "other", 1),
                    Map.of(JOB_TYPE, 5),
                    Map.of())));
    assertEquals(1, both.size(), "another batch waits its turn: nothing fetched ahead");

    // a node that does not run the other type fetches ahead: no batch it serves waits
    List<ClaimedJob> one = fetch(NODE_B, 1, 5, at(2));
    assertEquals(6, one.size(), claimedIds(one).toString());
    assertEquals(1, withSlot(one, true).size());
    assertTrue(one.stream().allMatch(c -> c.batchId().equals(first.id())));
  }

  @Test
  void fetchAhead_onlyForANodeThatHoldsASlotOfTheBatch() {
    Stored stored = insert(batch(10).maxConcurrency(1));
    List<ClaimedJob> a = fetch(NODE_A, 1, 2, at(1));
    assertEquals(3, a.size());

    assertEquals(List.of(), fetch(NODE_B, 1, 5, at(2)), "no slot for node B, so nothing fetched");
    // node A holds the slot: it may fetch more without asking for a slot
    List<ClaimedJob> more = fetch(NODE_A, 0, 4, at(3));
    assertEquals(4, more.size());
    assertTrue(more.stream().noneMatch(ClaimedJob::holdsSlot));
    assertEquals(7, batchOf(stored.id()).progress().processing());
  }

  @Test
  void fetchedJobs_releasedUnstarted_giveNoSlotBack() {
    Stored stored = insert(batch(10).maxConcurrency(1));
    List<ClaimedJob> a = fetch(NODE_A, 1, 3, at(1));
    List<ClaimedJob> fetched = withSlot(a, false);

    store.complete(fetched.stream().map(c -> JobOutcome.released(c).withoutSlot()).toList(), at(2));

    assertEquals(new Progress(10, 9, 1, 0, 0, 0), batchOf(stored.id()).progress());
    assertEquals(List.of(), claim(NODE_B, 1, at(3)), "node A still runs its job in the slot");
  }

  @Test
  void requeueExpired_takesTheSlotsOfANodeWhoseJobsWereTakenBack() {
    Stored stored = insert(batch(10).maxConcurrency(2));
    List<ClaimedJob> a = fetch(NODE_A, 2, 3, at(1));
    assertEquals(5, a.size());
    assertEquals(List.of(), claim(NODE_B, 2, at(2)));

    store.requeueExpired(at(1).plus(LEASE).plusSeconds(1), 100);

    assertEquals(new Progress(10, 10, 0, 0, 0, 0), batchOf(stored.id()).progress());
    assertEquals(2, claim(NODE_B, 2, at(2).plus(LEASE).plusSeconds(2)).size());
    // the late outcome of a job taken back is rejected, and frees nothing more
    CompletionResult late =
        store.complete(
            List.of(JobOutcome.succeeded(a.get(0), "late")), at(3).plus(LEASE).plusSeconds(3));
    assertEquals(Set.of(a.get(0).id()), late.rejected());
    assertEquals(List.of(), claim(NODE_C, 2, at(4).plus(LEASE).plusSeconds(4)));
  }

  /**
   * Nodes claim, fetch ahead, pass slots on and give them back at once, round after round: the jobs
   * that hold a slot never exceed the batch's limit, no job is handed out twice, and every job
   * ends.
   */
  @Test
  void concurrentNodesFetchingAhead_neverHoldMoreSlotsThanTheLimit() throws Exception {
    int limit = 3;
    int jobs = 60;
    for (int round = 0; round < 5 * concurrencyRounds(); round++) {
      Stored stored = insert(batch(jobs).maxConcurrency(limit));
      // slots held by the callers: up after the store granted one, down before the outcome that
      // gives it back is sent, so never above the store's count of held slots
      AtomicInteger held = new AtomicInteger();
      AtomicInteger peak = new AtomicInteger();
      Set<JobId> seen = ConcurrentHashMap.newKeySet();
      List<Callable<Integer>> nodes = new ArrayList<>();
      for (String node : List.of(NODE_A, NODE_B, NODE_C)) {
        nodes.add(
            () -> {
              int done = 0;
              Instant now = at(1);
              for (int step = 0; step < 5_000; step++) {
                if (batchOf(stored.id()).progress().pending() == 0) {
                  break;
                }
                List<ClaimedJob> got = fetch(node, 1, 2, now);
                for (ClaimedJob job : got) {
                  assertTrue(seen.add(job.id()), "claimed twice: " + job.id());
                }
                ArrayDeque<ClaimedJob> fetched = new ArrayDeque<>(withSlot(got, false));
                for (ClaimedJob slotted : withSlot(got, true)) {
                  peak.accumulateAndGet(held.incrementAndGet(), Math::max);
                  // the slot runs this job, then each one fetched ahead, and goes back with the
                  // last
                  ClaimedJob running = slotted;
                  ClaimedJob next;
                  while ((next = fetched.poll()) != null) {
                    store.complete(List.of(JobOutcome.succeeded(running, "ok").withoutSlot()), now);
                    done++;
                    running = next;
                  }
                  held.decrementAndGet();
                  store.complete(List.of(JobOutcome.succeeded(running, "ok")), now);
                  done++;
                }
                for (ClaimedJob left : fetched) {
                  store.complete(List.of(JobOutcome.released(left).withoutSlot()), now);
                }
              }
              return done;
            });
      }
      List<Integer> done = runConcurrently(nodes, new CountDownLatch(1));
      assertEquals(jobs, done.stream().mapToInt(Integer::intValue).sum(), "jobs run");
      assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), batchOf(stored.id()).progress());
      assertTrue(peak.get() <= limit, "slots held at once: " + peak.get());
    }
  }

  /** A batch's progress counted job by job: what its counters must show. */
  private Progress countedProgress(BatchId id) {
    long[] n = new long[JobStatus.values().length];
    List<Job> jobs = allJobs(id);
    jobs.forEach(j -> n[j.status().ordinal()]++);
    return new Progress(
        jobs.size(),
        n[JobStatus.QUEUED.ordinal()],
        n[JobStatus.PROCESSING.ordinal()],
        n[JobStatus.SUCCEEDED.ordinal()],
        n[JobStatus.FAILED.ordinal()],
        n[JobStatus.CANCELLED.ordinal()]);
  }

  /**
   * Fetches with no claim for slots (what a store that fetches aside, {@link
   * JobStore#fetchesAside}, runs beside the other steps) count as processing at once, and the
   * counters stay exact through outcomes, expired leases and a cancellation.
   */
  @Test
  void fetchOnly_progressStaysExactThroughOutcomesExpiryAndCancel() {
    Stored stored = insert(batch(20).maxConcurrency(1));
    BatchId id = stored.id();
    assertEquals(3, fetch(NODE_A, 1, 2, at(1)).size());

    List<ClaimedJob> more = fetch(NODE_A, 0, 5, at(2));
    assertEquals(5, more.size());
    assertTrue(more.stream().noneMatch(ClaimedJob::holdsSlot));
    assertEquals(new Progress(20, 12, 8, 0, 0, 0), batchOf(id).progress());
    assertEquals(countedProgress(id), batchOf(id).progress());

    store.complete(
        List.of(
            JobOutcome.succeeded(more.get(0), "ok").withoutSlot(),
            JobOutcome.succeeded(more.get(1), "ok").withoutSlot()),
        at(3));
    assertEquals(new Progress(20, 12, 6, 2, 0, 0), batchOf(id).progress());
    assertEquals(3, fetch(NODE_A, 0, 3, at(4)).size());
    assertEquals(new Progress(20, 9, 9, 2, 0, 0), batchOf(id).progress());
    assertEquals(countedProgress(id), batchOf(id).progress());

    // every lease runs out: the jobs go back, those fetched ahead among them
    store.requeueExpired(at(4).plus(LEASE).plusSeconds(1), 100);
    assertEquals(new Progress(20, 18, 0, 2, 0, 0), batchOf(id).progress());
    assertEquals(countedProgress(id), batchOf(id).progress());

    Instant later = at(10).plus(LEASE);
    List<ClaimedJob> b = fetch(NODE_B, 1, 1, later);
    List<ClaimedJob> bMore = fetch(NODE_B, 0, 3, later.plusSeconds(1));
    assertEquals(2 + 3, b.size() + bMore.size());
    assertEquals(new Progress(20, 13, 5, 2, 0, 0), batchOf(id).progress());

    store.cancelBatch(id, later.plusSeconds(2));
    assertEquals(new Progress(20, 0, 5, 2, 0, 13), batchOf(id).progress());
    assertEquals(countedProgress(id), batchOf(id).progress());
    assertEquals(List.of(), fetch(NODE_B, 0, 3, later.plusSeconds(3)), "a cancelled batch");

    // the running jobs' outcomes come in after the batch ended: cancelled
    List<JobOutcome> ends = new ArrayList<>();
    b.forEach(c -> ends.add(JobOutcome.succeeded(c, "late")));
    bMore.forEach(c -> ends.add(JobOutcome.succeeded(c, "late").withoutSlot()));
    store.complete(ends, later.plusSeconds(4));
    assertEquals(new Progress(20, 0, 0, 2, 0, 18), batchOf(id).progress());
    assertEquals(countedProgress(id), batchOf(id).progress());
  }

  /**
   * A node fetches ahead with no claim for slots while it records the outcomes of what it fetched
   * and, in every other round, the batch is cancelled half-way: every read of the batch adds up,
   * and once every outcome is in, the counters equal the jobs counted one by one.
   */
  @Test
  void fetchOnly_racingOutcomesAndACancel_keepsTheCountersExact() throws Exception {
    Random random = new Random(Long.getLong("batchkit.seed", System.nanoTime()));
    for (int round = 0; round < 4 * concurrencyRounds(); round++) {
      int jobs = 120;
      Stored stored = insert(batch(jobs).maxConcurrency(2));
      BatchId id = stored.id();
      List<ClaimedJob> slotted = fetch(NODE_A, 2, 0, at(1));
      assertEquals(2, slotted.size());
      ConcurrentLinkedQueue<ClaimedJob> fetched = new ConcurrentLinkedQueue<>();
      AtomicInteger recorded = new AtomicInteger();
      CountDownLatch fetching = new CountDownLatch(1);
      int cancelAfter = round % 2 == 0 ? -1 : random.nextInt(60);
      List<Callable<Integer>> calls = new ArrayList<>();
      calls.add(
          () -> {
            try {
              for (int step = 0; step < 1_000; step++) {
                List<ClaimedJob> got = fetch(NODE_A, 0, 1 + step % 7, at(2));
                fetched.addAll(got);
                if (got.isEmpty()) {
                  Batch now = batchOf(id);
                  if (now.status() != BatchStatus.PROCESSING || now.progress().queued() == 0) {
                    break;
                  }
                }
              }
              return 0;
            } finally {
              fetching.countDown();
            }
          });
      calls.add(
          () -> {
            List<JobOutcome> group = new ArrayList<>();
            while (fetching.getCount() > 0 || !fetched.isEmpty()) {
              ClaimedJob next;
              while (group.size() < 5 && (next = fetched.poll()) != null) {
                group.add(JobOutcome.succeeded(next, "ok").withoutSlot());
              }
              if (!group.isEmpty()) {
                store.complete(group, at(3));
                recorded.addAndGet(group.size());
                group.clear();
              }
            }
            return 0;
          });
      calls.add(
          () -> {
            int reads = 0;
            while (fetching.getCount() > 0) {
              Progress p = batchOf(id).progress(); // a count below none would throw here
              assertEquals(jobs, p.queued() + p.processing() + p.succeeded() + p.cancelled());
              if (cancelAfter >= 0 && recorded.get() >= cancelAfter) {
                store.cancelBatch(id, at(4));
                return reads;
              }
              reads++;
            }
            return reads;
          });
      runConcurrently(calls, new CountDownLatch(0));
      List<JobOutcome> last = new ArrayList<>();
      fetched.forEach(c -> last.add(JobOutcome.succeeded(c, "ok").withoutSlot()));
      slotted.forEach(c -> last.add(JobOutcome.succeeded(c, "ok")));
      store.complete(last, at(5));

      Batch done = batchOf(id);
      String where = "round " + round + ", cancelled after " + cancelAfter + " outcomes";
      assertEquals(countedProgress(id), done.progress(), where);
      assertEquals(0, done.progress().pending(), where);
      assertTrue(done.status().isFinal(), where + ": " + done.status());
    }
  }

  /**
   * Three nodes record outcomes that keep their slots (as when a job's slot passes on to a job
   * fetched ahead; here the slots are simply kept, under a limit they never reach), most of them
   * retries due at once, while failures among them trip the batch's failure policy: once the batch
   * has ended, none of its jobs is queued again, and the counters end exact. PostgreSQL records
   * such outcomes without locking the batch row first, judged by the status its statement reads,
   * and must catch a status that changed before it locked the row: else a retry judged by
   * "processing" is queued in a batch that has just failed, never to run.
   */
  @Test
  void outcomesRacingAFailurePolicyTrip_queueNoJobInTheEndedBatch() throws Exception {
    long seed = Long.getLong("batchkit.seed", System.nanoTime());
    LOG.info("failure policy race for {} with seed {}", getClass().getSimpleName(), seed);
    Random random = new Random(seed);
    for (int round = 0; round < 4 * concurrencyRounds(); round++) {
      int jobs = 300;
      int maxFailures = 5 + random.nextInt(20);
      Stored stored =
          insert(
              batch(jobs)
                  .maxConcurrency(10_000) // the slots are never given back here
                  .maxAttempts(100)
                  .failurePolicy(FailurePolicy.maxFailures(maxFailures)));
      BatchId id = stored.id();
      // how many calls recorded outcomes; a node that found nothing to claim waits for the next
      AtomicLong recorded = new AtomicLong();
      List<Callable<Integer>> nodes = new ArrayList<>();
      for (String node : List.of(NODE_A, NODE_B, NODE_C)) {
        Random rolls = new Random(random.nextLong());
        nodes.add(
            () -> {
              // within runConcurrently's own wait, so that this says what went wrong
              long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(45);
              for (int step = 0; System.nanoTime() - deadline < 0; step++) {
                long seen = recorded.get();
                List<ClaimedJob> got =
                    store.claim(
                        new ClaimRequest(
                            node, 8, at(2), at(2).plus(LEASE), AGING_STEP, Map.of(JOB_TYPE, 8)));
                if (got.isEmpty()) {
                  if (batchOf(id).status().isFinal()) {
                    return step;
                  }
                  // another node holds the last jobs: wait until it records their outcomes
                  synchronized (recorded) {
                    long left;
                    while (recorded.get() == seen && (left = deadline - System.nanoTime()) > 0) {
                      TimeUnit.NANOSECONDS.timedWait(recorded, left);
                    }
                  }
                  continue;
                }
                List<JobOutcome> outcomes = new ArrayList<>();
                for (ClaimedJob job : got) {
                  int roll = rolls.nextInt(100);
                  Kind kind = roll < 4 ? Kind.FAILED : roll < 70 ? Kind.RETRY : Kind.SUCCEEDED;
                  outcomes.add(outcome(job, kind, at(2)).withoutSlot());
                }
                store.complete(outcomes, at(2));
                synchronized (recorded) {
                  recorded.incrementAndGet();
                  recorded.notifyAll();
                }
              }
              return -1;
            });
      }
      List<Integer> steps = runConcurrently(nodes, new CountDownLatch(0));

      Batch done = batchOf(id);
      String where =
          "round " + round + " of seed " + seed + ", " + maxFailures + " failures allowed";
      assertFalse(steps.contains(-1), where + ": a node did not see the batch end within 45 s");
      assertTrue(done.status().isFinal(), where + ": " + done.status());
      assertEquals(countedProgress(id), done.progress(), where);
      assertEquals(0, done.progress().pending(), where + ": " + done.progress());
      assertTrue(done.isFinished(), where);
    }
  }

  /**
   * Claims that draw on a rate bucket (their own steps, on every store) race fetches ahead with no
   * claim for slots on another node: no job is handed out twice, and the counters end exact.
   */
  @Test
  void rateLimitedClaims_racingFetchesAhead_neverHandOutAJobTwice() throws Exception {
    SharedRateLimit limit = new SharedRateLimit(Optional.empty(), 1_000_000, Duration.ofSeconds(1));
    for (int round = 0; round < 4 * concurrencyRounds(); round++) {
      int jobs = 150;
      Stored stored = insert(batch(jobs).maxConcurrency(1_000));
      BatchId id = stored.id();
      ConcurrentLinkedQueue<ClaimedJob> handedOut = new ConcurrentLinkedQueue<>();
      handedOut.addAll(fetch(NODE_A, 1, 0, at(1))); // a slot: node A may fetch ahead
      Set<JobId> seen = ConcurrentHashMap.newKeySet();
      handedOut.forEach(c -> seen.add(c.id()));
      List<Callable<Integer>> calls = new ArrayList<>();
      for (boolean fetcher : new boolean[] {true, false}) {
        calls.add(
            () -> {
              for (int step = 0; step < 1_000; step++) {
                List<ClaimedJob> got =
                    fetcher
                        ? fetch(NODE_A, 0, 3, at(2))
                        : store.claim(limited(NODE_B, 3, 0, at(2), limit));
                for (ClaimedJob job : got) {
                  assertTrue(seen.add(job.id()), "handed out twice: " + job.id());
                }
                handedOut.addAll(got);
                if (got.isEmpty() && batchOf(id).progress().queued() == 0) {
                  break;
                }
              }
              return 0;
            });
      }
      runConcurrently(calls, new CountDownLatch(0));

      assertEquals(jobs, seen.size(), "every job handed out once");
      List<JobOutcome> ends = new ArrayList<>();
      handedOut.forEach(
          c ->
              ends.add(
                  c.holdsSlot()
                      ? JobOutcome.succeeded(c, "ok")
                      : JobOutcome.succeeded(c, "ok").withoutSlot()));
      assertEquals(Set.of(), store.complete(ends, at(3)).rejected(), "a job's token was overtaken");
      assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), batchOf(id).progress());
      assertEquals(countedProgress(id), batchOf(id).progress());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // rate limits held by the store for all nodes

  /** Claims up to {@code max} jobs for free slots under {@code limit}, fetching {@code ahead}. */
  protected ClaimRequest limited(
      String nodeId, int max, int ahead, Instant now, SharedRateLimit limit) {
    return new ClaimRequest(
        nodeId,
        max,
        now,
        now.plus(LEASE),
        AGING_STEP,
        Map.of(JOB_TYPE, max),
        Map.of(JOB_TYPE, ahead),
        Map.of(JOB_TYPE, limit));
  }

  @Test
  void sharedRateLimit_claimsOnEveryNodeDrawOnOneBucketThatRefillsWithTime() {
    insert(batch(100));
    // 1 a second, so the bucket holds 3 (a tenth of the permits)
    SharedRateLimit limit = new SharedRateLimit(Optional.empty(), 30, Duration.ofSeconds(30));

    assertEquals(3, store.claim(limited(NODE_A, 10, 0, at(1), limit)).size(), "a full bucket");
    assertEquals(0, store.claim(limited(NODE_B, 10, 0, at(1), limit)).size(), "the same bucket");
    assertEquals(2, store.claim(limited(NODE_B, 10, 0, at(3), limit)).size(), "2 s: 2 tokens");
    assertEquals(
        3,
        store.claim(limited(NODE_C, 10, 0, at(60), limit)).size(),
        "idle: its capacity, no more");
  }

  /** A node whose clock is behind neither refills the bucket nor lets another refill it twice. */
  @Test
  void sharedRateLimit_aClockBehindAddsNoTokens() {
    insert(batch(100));
    SharedRateLimit limit = new SharedRateLimit(Optional.empty(), 30, Duration.ofSeconds(30));

    assertEquals(3, store.claim(limited(NODE_A, 10, 0, at(10), limit)).size());
    assertEquals(0, store.claim(limited(NODE_B, 10, 0, at(5), limit)).size(), "5 s behind");
    assertEquals(
        1, store.claim(limited(NODE_C, 10, 0, at(11), limit)).size(), "1 s after the first claim");
  }

  @Test
  void sharedRateLimit_byMetadata_eachValueHasABucketOfItsOwn() {
    Stored a = insert(batch(10).metadata("tenant", "a"));
    Stored b = insert(batch(10).metadata("tenant", "b"));
    SharedRateLimit limit = new SharedRateLimit(Optional.of("tenant"), 10, Duration.ofMinutes(1));

    List<ClaimedJob> got = store.claim(limited(NODE_A, 10, 0, at(1), limit));

    assertEquals(2, got.size(), "one token in each tenant's bucket");
    assertEquals(
        Set.of(a.id(), b.id()), got.stream().map(ClaimedJob::batchId).collect(Collectors.toSet()));
    assertEquals(List.of(), store.claim(limited(NODE_B, 10, 0, at(2), limit)));
  }

  @Test
  void sharedRateLimit_nothingIsFetchedAheadOfALimitedType() {
    insert(batch(50));
    SharedRateLimit limit = new SharedRateLimit(Optional.empty(), 100, Duration.ofSeconds(1));

    List<ClaimedJob> got = store.claim(limited(NODE_A, 2, 20, at(1), limit));

    assertEquals(2, got.size());
    assertTrue(got.stream().allMatch(ClaimedJob::holdsSlot));
  }

  // ---------------------------------------------------------------------------------------------
  // completeAndClaim

  @Test
  void completeAndClaim_claimsTheSlotItsOutcomeFreed() {
    Stored stored = insert(batch(3).maxConcurrency(1));
    ClaimedJob first = claim(NODE_A, 5, at(1)).get(0);

    CompleteAndClaimResult result =
        store.completeAndClaim(
            List.of(JobOutcome.succeeded(first, "ok")), at(2), request(NODE_A, 5, at(2)));

    assertEquals(Set.of(), result.completion().rejected());
    assertEquals(List.of(stored.jobId(1)), claimedIds(result.claimed()), "the next job, at once");
    assertEquals(new Progress(3, 1, 1, 1, 0, 0), batchOf(stored.id()).progress());
    assertEquals(Optional.of("ok"), jobOf(stored.id(), first.id()).result());
    Job next = jobOf(stored.id(), stored.jobId(1));
    assertEquals(JobStatus.PROCESSING, next.status());
    assertEquals(Optional.of(NODE_A), next.nodeId());
  }

  @Test
  void completeAndClaim_returnsWhatCompleteReturns_andRejectsStaleOutcomes() {
    Stored stored = insert(batch(2));
    List<ClaimedJob> claimed = claim(NODE_A, 2, at(1));
    ClaimedJob stale =
        new ClaimedJob(
            claimed.get(1).id(),
            stored.id(),
            claimed.get(1).payload(),
            1,
            claimed.get(1).fencingToken() + 1);

    CompleteAndClaimResult result =
        store.completeAndClaim(
            List.of(JobOutcome.succeeded(claimed.get(0), "ok"), JobOutcome.succeeded(stale, "x")),
            at(2),
            request(NODE_A, 5, at(2)));

    assertEquals(Set.of(stale.id()), result.completion().rejected());
    assertEquals(1, result.completion().batches().size());
    assertEquals(stored.id(), result.completion().batches().get(0).id());
    assertEquals(new Progress(2, 0, 1, 1, 0, 0), result.completion().batches().get(0).progress());
    assertEquals(List.of(), result.claimed(), "nothing is left to claim");
    assertEquals(JobStatus.PROCESSING, jobOf(stored.id(), stale.id()).status());
  }

  @Test
  void completeAndClaim_withNoOutcomes_onlyClaims_andWithNothingDue_onlyCompletes() {
    Stored stored = insert(batch(2));

    CompleteAndClaimResult claimOnly =
        store.completeAndClaim(List.of(), at(1), request(NODE_A, 1, at(1)));
    assertEquals(new CompletionResult(Set.of(), List.of()), claimOnly.completion());
    assertEquals(List.of(stored.jobId(0)), claimedIds(claimOnly.claimed()));

    ClaimedJob job = claimOnly.claimed().get(0);
    CompleteAndClaimResult completeOnly =
        store.completeAndClaim(
            List.of(JobOutcome.succeeded(job, "ok")),
            at(2),
            request(NODE_A, 5, at(2), Map.of("other type", 5)));
    assertEquals(List.of(), completeOnly.claimed(), "no job of the named type");
    assertEquals(new Progress(2, 1, 0, 1, 0, 0), batchOf(stored.id()).progress());
  }

  @Test
  void completeAndClaim_withANullArgumentOrOutcome_changesNothing() {
    Stored stored = insert(batch(2));
    List<ClaimedJob> claimed = claim(NODE_A, 1, at(1));
    Batch before = batchOf(stored.id());
    List<JobOutcome> ok = List.of(JobOutcome.succeeded(claimed.get(0), "ok"));
    List<JobOutcome> withNull = Arrays.asList(JobOutcome.succeeded(claimed.get(0), "ok"), null);
    ClaimRequest request = request(NODE_A, 5, at(2));

    assertThrows(NullPointerException.class, () -> store.completeAndClaim(null, at(2), request));
    assertThrows(NullPointerException.class, () -> store.completeAndClaim(ok, null, request));
    assertThrows(NullPointerException.class, () -> store.completeAndClaim(ok, at(2), null));
    assertThrows(
        NullPointerException.class, () -> store.completeAndClaim(withNull, at(2), request));

    assertEquals(before, batchOf(stored.id()));
    assertEquals(JobStatus.PROCESSING, jobOf(stored.id(), claimed.get(0).id()).status());
  }

  @Test
  void complete_isAtomic_appliesNothingWhenAnOutcomeIsNull() {
    Stored stored = insert(batch(2));
    List<ClaimedJob> claimed = claim(NODE_A, 2, at(1));
    Batch before = batchOf(stored.id());
    List<JobOutcome> withNull =
        Arrays.asList(
            JobOutcome.succeeded(claimed.get(0), "ok"),
            null,
            JobOutcome.failed(claimed.get(1), "boom"));

    assertThrows(NullPointerException.class, () -> store.complete(withNull, at(2)));

    assertEquals(before, batchOf(stored.id()));
    for (ClaimedJob c : claimed) {
      assertEquals(JobStatus.PROCESSING, jobOf(stored.id(), c.id()).status());
    }
    CompletionResult retried =
        store.complete(
            List.of(
                JobOutcome.succeeded(claimed.get(0), "ok"),
                JobOutcome.failed(claimed.get(1), "boom")),
            at(3));
    assertEquals(Set.of(), retried.rejected(), "the tokens are still current");
  }

  @Test
  void complete_succeeded_endsJobWithItsResult() {
    Stored stored = insert(batch(2));
    ClaimedJob claimed = claim(NODE_A, 1, at(1)).get(0);
    String result = AWKWARD_TEXTS.get(3) + AWKWARD_TEXTS.get(4) + AWKWARD_TEXTS.get(11);

    CompletionResult done = store.complete(List.of(JobOutcome.succeeded(claimed, result)), at(5));

    Job job = jobOf(stored.id(), claimed.id());
    assertEquals(Set.of(), done.rejected());
    assertEquals(JobStatus.SUCCEEDED, job.status());
    assertEquals(Optional.of(result), job.result());
    assertEquals(Optional.empty(), job.error());
    assertEquals(1, job.attempt());
    assertEquals(Optional.of(at(5)), job.finishedAt());
    assertEquals(at(5), job.updatedAt());
    assertEquals(Optional.of(NODE_A), job.nodeId());
    assertEquals(new Progress(2, 1, 0, 1, 0, 0), batchOf(stored.id()).progress());
    // a null result is stored as none
    ClaimedJob second = claim(NODE_A, 1, at(6)).get(0);
    store.complete(List.of(JobOutcome.succeeded(second, null)), at(7));
    assertEquals(Optional.empty(), jobOf(stored.id(), second.id()).result());
  }

  @Test
  void complete_failed_endsJobWithItsError() {
    Stored stored = insert(batch(2));
    ClaimedJob claimed = claim(NODE_A, 1, at(1)).get(0);

    store.complete(List.of(JobOutcome.failed(claimed, "boom: '; DROP TABLE x; --")), at(5));

    Job job = jobOf(stored.id(), claimed.id());
    assertEquals(JobStatus.FAILED, job.status());
    assertEquals(Optional.of("boom: '; DROP TABLE x; --"), job.error());
    assertEquals(Optional.empty(), job.result());
    assertEquals(1, job.attempt());
    assertEquals(Optional.of(at(5)), job.finishedAt());
    assertEquals(new Progress(2, 1, 0, 0, 1, 0), batchOf(stored.id()).progress());
    assertEquals(BatchStatus.PROCESSING, batchOf(stored.id()).status());
  }

  @Test
  void complete_retry_queuesJobAgainKeepingTheAttempt() {
    Stored stored = insert(batch(2).maxAttempts(3));
    ClaimedJob claimed = claim(NODE_A, 1, at(1)).get(0);

    store.complete(List.of(JobOutcome.retry(claimed, "flaky", at(30))), at(5));

    Job job = jobOf(stored.id(), claimed.id());
    assertEquals(JobStatus.QUEUED, job.status());
    assertEquals(1, job.attempt(), "the failed attempt stays counted");
    assertEquals(Optional.of("flaky"), job.error());
    assertEquals(Optional.empty(), job.finishedAt());
    assertEquals(Progress.allQueued(2), batchOf(stored.id()).progress());
    assertEquals(2, store.countQueuedJobs());
  }

  @Test
  void complete_retryOnTheLastAttempt_failsTheJob_whateverTheReporterBelieved() {
    Stored stored = insert(batch(2).maxAttempts(1));
    ClaimedJob claimed = claim(NODE_A, 1, at(1)).get(0);

    // a reporter that believes attempts remain (a pull worker can edit the attempt in its token)
    CompletionResult result =
        store.complete(List.of(JobOutcome.retry(claimed, "flaky", at(30))), at(5));

    assertEquals(Set.of(), result.rejected());
    Job job = jobOf(stored.id(), claimed.id());
    assertEquals(JobStatus.FAILED, job.status(), "its one attempt is spent");
    assertEquals(1, job.attempt());
    assertEquals(Optional.of("flaky"), job.error());
    assertEquals(Optional.of(at(5)), job.finishedAt());
    assertEquals(new Progress(2, 1, 0, 0, 1, 0), batchOf(stored.id()).progress());
    assertEquals(1, store.countQueuedJobs(), "it is not queued again");
  }

  @Test
  void complete_cancelled_endsJobCancelled() {
    Stored stored = insert(batch(2));
    ClaimedJob claimed = claim(NODE_A, 1, at(1)).get(0);

    store.complete(List.of(JobOutcome.cancelled(claimed)), at(5));

    Job job = jobOf(stored.id(), claimed.id());
    assertEquals(JobStatus.CANCELLED, job.status());
    assertEquals(Optional.of(at(5)), job.finishedAt());
    assertEquals(new Progress(2, 1, 0, 0, 0, 1), batchOf(stored.id()).progress());
    assertEquals(BatchStatus.PROCESSING, batchOf(stored.id()).status());
  }

  @Test
  void complete_released_queuesJobDueAtOnceWithoutCountingTheAttempt() {
    Stored stored = insert(batch(1).maxAttempts(1));
    ClaimedJob claimed = claim(NODE_A, 1, at(1)).get(0);

    store.complete(List.of(JobOutcome.released(claimed)), at(5));

    Job job = jobOf(stored.id(), claimed.id());
    assertEquals(JobStatus.QUEUED, job.status());
    assertEquals(0, job.attempt(), "a released attempt is not counted");
    assertEquals(Progress.allQueued(1), batchOf(stored.id()).progress());
    List<ClaimedJob> again = claim(NODE_B, 1, at(5));
    assertEquals(1, again.size(), "a released job is due at once");
    assertEquals(1, again.get(0).attempt());
    assertNotEquals(claimed.fencingToken(), again.get(0).fencingToken());
  }

  @Test
  void complete_keepsProgressExactAfterEachStep() {
    Stored stored = insert(batch(6).maxConcurrency(6).maxAttempts(3));
    BatchId id = stored.id();
    assertEquals(new Progress(6, 6, 0, 0, 0, 0), batchOf(id).progress());

    List<ClaimedJob> c = claim(NODE_A, 5, at(1));
    assertEquals(new Progress(6, 1, 5, 0, 0, 0), batchOf(id).progress());

    store.complete(List.of(JobOutcome.succeeded(c.get(0), "ok")), at(2));
    assertEquals(new Progress(6, 1, 4, 1, 0, 0), batchOf(id).progress());

    store.complete(
        List.of(JobOutcome.failed(c.get(1), "boom"), JobOutcome.retry(c.get(2), "again", at(3))),
        at(3));
    assertEquals(new Progress(6, 2, 2, 1, 1, 0), batchOf(id).progress());

    store.complete(List.of(JobOutcome.cancelled(c.get(3)), JobOutcome.released(c.get(4))), at(4));
    assertEquals(new Progress(6, 3, 0, 1, 1, 1), batchOf(id).progress());

    List<ClaimedJob> rest = claim(NODE_B, 6, at(5));
    assertEquals(3, rest.size());
    assertEquals(new Progress(6, 0, 3, 1, 1, 1), batchOf(id).progress());

    store.complete(rest.stream().map(r -> JobOutcome.succeeded(r, "ok")).toList(), at(6));
    Batch done = batchOf(id);
    assertEquals(new Progress(6, 0, 0, 4, 1, 1), done.progress());
    assertEquals(BatchStatus.PARTIAL, done.status());
    assertEquals(at(6), done.updatedAt());
    Map<JobStatus, Long> counted = new EnumMap<>(JobStatus.class);
    allJobs(id).forEach(j -> counted.merge(j.status(), 1L, Long::sum));
    for (JobStatus status : JobStatus.values()) {
      assertEquals(
          done.progress().count(status), counted.getOrDefault(status, 0L), status.toString());
    }
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "SSS, COMPLETED",
    "S, COMPLETED",
    "SSF, PARTIAL",
    "SFF, PARTIAL",
    "SFC, PARTIAL",
    "SCC, PARTIAL",
    "FFF, FAILED",
    "F, FAILED",
    "FCC, FAILED",
    "CCC, FAILED",
  })
  void complete_endingTheLastPendingJob_setsFinalStatusAndCompletionTime(
      String endings, BatchStatus expected) {
    int n = endings.length();
    Stored stored = insert(batch(n).maxConcurrency(n));
    List<ClaimedJob> claimed = claim(NODE_A, n, at(1));
    assertEquals(n, claimed.size());

    for (int i = 0; i < n; i++) {
      Batch before = batchOf(stored.id());
      assertEquals(BatchStatus.PROCESSING, before.status());
      assertEquals(Optional.empty(), before.completedAt());
      Kind kind =
          switch (endings.charAt(i)) {
            case 'S' -> Kind.SUCCEEDED;
            case 'F' -> Kind.FAILED;
            default -> Kind.CANCELLED;
          };
      store.complete(List.of(outcome(claimed.get(i), kind, at(10 + i))), at(10 + i));
    }

    Batch done = batchOf(stored.id());
    assertEquals(expected, done.status());
    assertEquals(Optional.of(at(10 + n - 1)), done.completedAt());
    assertEquals(at(10 + n - 1), done.updatedAt());
    assertTrue(done.isFinished());
    assertEquals(expected, BatchStatusRule.finalStatus(done.progress(), false, false));
  }

  @Test
  void complete_fiveJobsThreeSucceedTwoFail_endsPartialWithExactProgress() {
    Stored stored = insert(batch(5).maxConcurrency(5));
    List<ClaimedJob> claimed = claim(NODE_A, 5, at(1));

    CompletionResult result =
        store.complete(
            List.of(
                JobOutcome.succeeded(claimed.get(0), "1"),
                JobOutcome.failed(claimed.get(1), "e1"),
                JobOutcome.succeeded(claimed.get(2), "2"),
                JobOutcome.failed(claimed.get(3), "e2"),
                JobOutcome.succeeded(claimed.get(4), "3")),
            at(9));

    Batch batch = batchOf(stored.id());
    Progress progress = batch.progress();
    assertEquals(BatchStatus.PARTIAL, batch.status());
    assertEquals(new Progress(5, 0, 0, 3, 2, 0), progress);
    assertEquals(5, progress.total());
    assertEquals(3, progress.succeeded());
    assertEquals(2, progress.failed());
    assertEquals(0, progress.pending());
    assertEquals(100.0, progress.percentage());
    assertEquals(Optional.of(at(9)), batch.completedAt());
    assertEquals(List.of(batch), result.batches());
  }

  @Test
  void complete_returnsASnapshotOfEachBatchWhoseJobsChanged() {
    Stored a = insert(batch(2).jobType("a"));
    Stored b = insert(batch(2).jobType("b"));
    Stored c = insert(batch(2).jobType("c"));
    List<ClaimedJob> claimed =
        store.claim(request(NODE_A, 10, at(1), Map.of("a", 1, "b", 1, "c", 1)));
    Map<BatchId, ClaimedJob> byBatch =
        claimed.stream().collect(Collectors.toMap(ClaimedJob::batchId, Function.identity()));
    ClaimedJob staleC =
        new ClaimedJob(
            byBatch.get(c.id()).id(), c.id(), "x", 1, byBatch.get(c.id()).fencingToken() + 1);

    CompletionResult result =
        store.complete(
            List.of(
                JobOutcome.succeeded(byBatch.get(a.id()), "ok"),
                JobOutcome.retry(byBatch.get(b.id()), "again", at(3)),
                JobOutcome.succeeded(staleC, "stale")),
            at(2));

    assertEquals(Set.of(staleC.id()), result.rejected());
    assertEquals(2, result.batches().size());
    Map<BatchId, Batch> snapshots =
        result.batches().stream().collect(Collectors.toMap(Batch::id, Function.identity()));
    assertEquals(batchOf(a.id()), snapshots.get(a.id()));
    assertEquals(batchOf(b.id()), snapshots.get(b.id()));
    assertEquals(new Progress(2, 1, 0, 1, 0, 0), snapshots.get(a.id()).progress());
    assertEquals(Progress.allQueued(2), snapshots.get(b.id()).progress());
  }

  static Stream<FailurePolicy> trippingAtTheSecondFailure() {
    return Stream.of(FailurePolicy.maxFailures(1), FailurePolicy.maxFailureRatio(0.1));
  }

  @ParameterizedTest
  @MethodSource("trippingAtTheSecondFailure")
  void complete_whenFailurePolicyTrips_cancelsQueuedJobsAndFailsBatch(FailurePolicy policy) {
    Stored stored = insert(batch(10).maxConcurrency(4).failurePolicy(policy));
    List<ClaimedJob> claimed = claim(NODE_A, 4, at(1));
    store.complete(List.of(JobOutcome.failed(claimed.get(0), "first")), at(2));
    assertEquals(BatchStatus.PROCESSING, batchOf(stored.id()).status(), "one failure is allowed");
    ClaimedJob refill = claim(NODE_A, 1, at(3)).get(0);

    CompletionResult result =
        store.complete(List.of(JobOutcome.failed(claimed.get(1), "second")), at(4));

    Batch aborted = batchOf(stored.id());
    assertEquals(BatchStatus.FAILED, aborted.status());
    assertEquals(new Progress(10, 0, 3, 0, 2, 5), aborted.progress());
    assertEquals(Optional.of(at(4)), aborted.completedAt());
    assertFalse(aborted.isFinished(), "three jobs still run");
    assertEquals(List.of(aborted), result.batches());
    assertEquals(0, store.countQueuedJobs());
    assertEquals(List.of(), claim(NODE_B, 10, at(5)));
    Map<JobId, Long> leases =
        Map.of(
            claimed.get(2).id(), claimed.get(2).fencingToken(),
            claimed.get(3).id(), claimed.get(3).fencingToken(),
            refill.id(), refill.fencingToken());
    HeartbeatResult heartbeat = store.heartbeat(NODE_A, leases, at(600));
    assertEquals(leases.keySet(), heartbeat.cancelRequested(), "running jobs are asked to stop");
    assertEquals(Set.of(), heartbeat.lost());

    store.complete(
        List.of(
            JobOutcome.succeeded(claimed.get(2), "late"),
            JobOutcome.failed(claimed.get(3), "late"),
            JobOutcome.retry(refill, "late", at(6))),
        at(6));

    Batch finished = batchOf(stored.id());
    assertEquals(BatchStatus.FAILED, finished.status());
    assertEquals(new Progress(10, 0, 0, 0, 2, 8), finished.progress());
    assertTrue(finished.isFinished());
    assertEquals(JobStatus.CANCELLED, jobOf(stored.id(), claimed.get(2).id()).status());
  }

  @Test
  void complete_whenFailurePolicyTripsOnTheLastPendingJob_endsFailedNotPartial() {
    Stored stored = insert(batch(3).maxConcurrency(3).failurePolicy(FailurePolicy.maxFailures(0)));
    List<ClaimedJob> claimed = claim(NODE_A, 3, at(1));
    store.complete(
        List.of(
            JobOutcome.succeeded(claimed.get(0), "ok"), JobOutcome.succeeded(claimed.get(1), "ok")),
        at(2));

    store.complete(List.of(JobOutcome.failed(claimed.get(2), "boom")), at(3));

    Batch batch = batchOf(stored.id());
    assertEquals(new Progress(3, 0, 0, 2, 1, 0), batch.progress());
    assertEquals(BatchStatus.FAILED, batch.status(), "a tripped policy wins over PARTIAL");
    assertEquals(Optional.of(at(3)), batch.completedAt());
  }

  @ParameterizedTest
  @EnumSource(Kind.class)
  void complete_forAJobOfAFinalBatch_endsTheJobCancelled(Kind kind) {
    Stored stored = insert(batch(3));
    ClaimedJob running = claim(NODE_A, 1, at(1)).get(0);
    store.cancelBatch(stored.id(), at(2));

    CompletionResult result = store.complete(List.of(outcome(running, kind, at(3))), at(3));

    assertEquals(Set.of(), result.rejected());
    Job job = jobOf(stored.id(), running.id());
    assertEquals(JobStatus.CANCELLED, job.status());
    assertEquals(Optional.of(at(3)), job.finishedAt());
    Batch batch = batchOf(stored.id());
    assertEquals(BatchStatus.CANCELLED, batch.status());
    assertEquals(new Progress(3, 0, 0, 0, 0, 3), batch.progress());
    assertTrue(batch.isFinished());
    assertEquals(List.of(batch), result.batches());
  }

  // ---------------------------------------------------------------------------------------------
  // heartbeat

  @Test
  void heartbeat_renewsTheLeaseSoRequeueExpiredLeavesTheJob() {
    Stored stored = insert(batch(2));
    List<ClaimedJob> claimed = claim(NODE_A, 2, at(0));
    Instant firstExpiry = at(0).plus(LEASE);
    ClaimedJob renewed = claimed.get(0);
    ClaimedJob notRenewed = claimed.get(1);

    HeartbeatResult result =
        store.heartbeat(
            NODE_A, Map.of(renewed.id(), renewed.fencingToken()), firstExpiry.plus(LEASE));
    CompletionResult requeued = store.requeueExpired(firstExpiry.plusSeconds(1), 10);

    assertEquals(Set.of(), result.lost());
    assertEquals(Set.of(), result.cancelRequested());
    assertEquals(JobStatus.PROCESSING, jobOf(stored.id(), renewed.id()).status());
    assertEquals(JobStatus.QUEUED, jobOf(stored.id(), notRenewed.id()).status());
    assertEquals(new Progress(2, 1, 1, 0, 0, 0), batchOf(stored.id()).progress());
    assertEquals(1, requeued.batches().size());
    assertEquals(
        Set.of(),
        store
            .complete(List.of(JobOutcome.succeeded(renewed, "ok")), firstExpiry.plusSeconds(2))
            .rejected());
  }

  @Test
  void heartbeat_reportsLostForAWrongTokenOwnerOrStatus_andRenewsNothingForThem() {
    Stored stored = insert(batch(4).maxConcurrency(4));
    Map<JobId, ClaimedJob> claimed = byId(claim(NODE_A, 3, at(0)));
    ClaimedJob wrongToken = claimed.get(stored.jobId(0));
    ClaimedJob otherOwner = claimed.get(stored.jobId(1));
    ClaimedJob finished = claimed.get(stored.jobId(2));
    store.complete(List.of(JobOutcome.succeeded(finished, "ok")), at(1));
    JobId queued = stored.jobId(3);
    JobId unknown = JobId.random();
    Instant renewedUntil = at(3600);

    HeartbeatResult a =
        store.heartbeat(
            NODE_A,
            Map.of(
                wrongToken.id(),
                wrongToken.fencingToken() + 1,
                finished.id(),
                finished.fencingToken(),
                queued,
                wrongToken.fencingToken(),
                unknown,
                1L),
            renewedUntil);
    HeartbeatResult b =
        store.heartbeat(NODE_B, Map.of(otherOwner.id(), otherOwner.fencingToken()), renewedUntil);

    assertEquals(Set.of(wrongToken.id(), finished.id(), queued, unknown), a.lost());
    assertEquals(Set.of(), a.cancelRequested());
    assertEquals(Set.of(otherOwner.id()), b.lost());
    assertEquals(Set.of(), b.cancelRequested());
    // neither lease was renewed, so both expire with the original lease
    store.requeueExpired(at(0).plus(LEASE).plusSeconds(1), 10);
    assertEquals(JobStatus.QUEUED, jobOf(stored.id(), wrongToken.id()).status());
    assertEquals(JobStatus.QUEUED, jobOf(stored.id(), otherOwner.id()).status());
    assertEquals(JobStatus.SUCCEEDED, jobOf(stored.id(), finished.id()).status());
  }

  @Test
  void heartbeat_reportsCancelRequestedForJobsOfFinalBatches_andStillRenews() {
    Stored cancelled = insert(batch(2).jobType("cancelled"));
    Stored running = insert(batch(2).jobType("running"));
    List<ClaimedJob> claimed =
        store.claim(request(NODE_A, 2, at(0), Map.of("cancelled", 1, "running", 1)));
    Map<BatchId, ClaimedJob> byBatch =
        claimed.stream().collect(Collectors.toMap(ClaimedJob::batchId, Function.identity()));
    ClaimedJob toStop = byBatch.get(cancelled.id());
    ClaimedJob toKeep = byBatch.get(running.id());
    store.cancelBatch(cancelled.id(), at(1));
    Instant firstExpiry = at(0).plus(LEASE);

    HeartbeatResult result =
        store.heartbeat(
            NODE_A,
            Map.of(toStop.id(), toStop.fencingToken(), toKeep.id(), toKeep.fencingToken()),
            firstExpiry.plus(LEASE));
    store.requeueExpired(firstExpiry.plusSeconds(1), 10);

    assertEquals(Set.of(toStop.id()), result.cancelRequested());
    assertEquals(Set.of(), result.lost());
    assertEquals(JobStatus.PROCESSING, jobOf(cancelled.id(), toStop.id()).status());
    assertEquals(JobStatus.PROCESSING, jobOf(running.id(), toKeep.id()).status());
  }

  // ---------------------------------------------------------------------------------------------
  // requeueExpired

  @Test
  void requeueExpired_queuesExpiredJobsAgainKeepingTheirAttempt() {
    Stored stored = insert(batch(3).maxAttempts(3));
    List<ClaimedJob> expired = claim(NODE_A, 2, at(0));
    ClaimedJob later =
        store
            .claim(new ClaimRequest(NODE_B, 1, at(0), at(3600), AGING_STEP, Map.of(JOB_TYPE, 1)))
            .get(0);
    Instant expiry = at(0).plus(LEASE);

    CompletionResult atExpiry = store.requeueExpired(expiry, 10);
    assertEquals(List.of(), atExpiry.batches(), "a lease expiring exactly now has not expired");
    assertEquals(new Progress(3, 0, 3, 0, 0, 0), batchOf(stored.id()).progress());

    CompletionResult result = store.requeueExpired(expiry.plusMillis(1), 10);

    Batch batch = batchOf(stored.id());
    assertEquals(Set.of(), result.rejected());
    assertEquals(List.of(batch), result.batches());
    assertEquals(new Progress(3, 2, 1, 0, 0, 0), batch.progress());
    for (ClaimedJob c : expired) {
      Job job = jobOf(stored.id(), c.id());
      assertEquals(JobStatus.QUEUED, job.status());
      assertEquals(1, job.attempt(), "the expired attempt stays counted");
    }
    assertEquals(JobStatus.PROCESSING, jobOf(stored.id(), later.id()).status());
    List<ClaimedJob> again = claim(NODE_C, 2, expiry.plusSeconds(1));
    assertEquals(Set.copyOf(claimedIds(expired)), Set.copyOf(claimedIds(again)), "due at once");
    assertTrue(again.stream().allMatch(c -> c.attempt() == 2));
  }

  @Test
  void requeueExpired_failsJobsWithNoAttemptLeft() {
    Stored stored = insert(batch(1).maxAttempts(2));
    claim(NODE_A, 1, at(0));
    store.requeueExpired(at(0).plus(LEASE).plusSeconds(1), 10);
    ClaimedJob last = claim(NODE_B, 1, at(400)).get(0);
    assertEquals(2, last.attempt());
    Instant now = at(400).plus(LEASE).plusSeconds(1);

    CompletionResult result = store.requeueExpired(now, 10);

    Job job = jobOf(stored.id(), last.id());
    assertEquals(JobStatus.FAILED, job.status());
    assertEquals(2, job.attempt());
    assertTrue(job.error().isPresent(), "a job that failed for good says why");
    assertEquals(Optional.of(now), job.finishedAt());
    Batch batch = batchOf(stored.id());
    assertEquals(BatchStatus.FAILED, batch.status());
    assertEquals(new Progress(1, 0, 0, 0, 1, 0), batch.progress());
    assertEquals(Optional.of(now), batch.completedAt());
    assertEquals(List.of(batch), result.batches());
  }

  @Test
  void requeueExpired_makesTheOldTokenUnacceptable() {
    Stored stored = insert(batch(1).maxAttempts(3));
    ClaimedJob old = claim(NODE_A, 1, at(0)).get(0);
    Instant now = at(0).plus(LEASE).plusSeconds(1);
    store.requeueExpired(now, 10);

    HeartbeatResult whileQueued =
        store.heartbeat(NODE_A, Map.of(old.id(), old.fencingToken()), now.plus(LEASE));
    CompletionResult completeWhileQueued =
        store.complete(List.of(JobOutcome.succeeded(old, "late")), now);
    ClaimedJob current = claim(NODE_B, 1, now.plusSeconds(1)).get(0);
    HeartbeatResult afterReclaim =
        store.heartbeat(NODE_A, Map.of(old.id(), old.fencingToken()), now.plus(LEASE));
    CompletionResult completeAfterReclaim =
        store.complete(List.of(JobOutcome.failed(old, "late")), now.plusSeconds(2));

    assertEquals(Set.of(old.id()), whileQueued.lost());
    assertEquals(Set.of(old.id()), completeWhileQueued.rejected());
    assertEquals(Set.of(old.id()), afterReclaim.lost());
    assertEquals(Set.of(old.id()), completeAfterReclaim.rejected());
    Job job = jobOf(stored.id(), old.id());
    assertEquals(JobStatus.PROCESSING, job.status());
    assertEquals(Optional.of(NODE_B), job.nodeId());
    assertNotEquals(old.fencingToken(), current.fencingToken());
  }

  @Test
  void requeueExpired_takesAtMostMaxJobs() {
    Stored stored = insert(batch(5).maxConcurrency(5));
    claim(NODE_A, 5, at(0));
    Instant now = at(0).plus(LEASE).plusSeconds(1);

    store.requeueExpired(now, 2);
    assertEquals(new Progress(5, 2, 3, 0, 0, 0), batchOf(stored.id()).progress());
    store.requeueExpired(now, 2);
    assertEquals(new Progress(5, 4, 1, 0, 0, 0), batchOf(stored.id()).progress());
    store.requeueExpired(now, 2);
    assertEquals(new Progress(5, 5, 0, 0, 0, 0), batchOf(stored.id()).progress());
    assertEquals(List.of(), store.requeueExpired(now, 2).batches());
  }

  @Test
  void requeueExpired_whenFailurePolicyTrips_cancelsQueuedJobsAndFailsBatch() {
    Stored stored =
        insert(
            batch(5).maxConcurrency(2).maxAttempts(1).failurePolicy(FailurePolicy.maxFailures(1)));
    claim(NODE_A, 2, at(0));
    Instant now = at(0).plus(LEASE).plusSeconds(1);

    CompletionResult result = store.requeueExpired(now, 10);

    Batch batch = batchOf(stored.id());
    assertEquals(BatchStatus.FAILED, batch.status());
    assertEquals(new Progress(5, 0, 0, 0, 2, 3), batch.progress());
    assertEquals(Optional.of(now), batch.completedAt());
    assertEquals(List.of(batch), result.batches());
  }

  @Test
  void requeueExpired_forAJobOfAFinalBatch_endsTheJobCancelled() {
    Stored stored = insert(batch(3).maxAttempts(3));
    ClaimedJob running = claim(NODE_A, 1, at(0)).get(0);
    store.cancelBatch(stored.id(), at(1));
    Instant now = at(0).plus(LEASE).plusSeconds(1);

    store.requeueExpired(now, 10);

    assertEquals(JobStatus.CANCELLED, jobOf(stored.id(), running.id()).status());
    Batch batch = batchOf(stored.id());
    assertEquals(BatchStatus.CANCELLED, batch.status());
    assertEquals(new Progress(3, 0, 0, 0, 0, 3), batch.progress());
    assertTrue(batch.isFinished());
  }

  @Test
  void requeueExpired_checksItsArguments() {
    assertThrows(IllegalArgumentException.class, () -> store.requeueExpired(at(1), 0));
    assertThrows(IllegalArgumentException.class, () -> store.requeueExpired(at(1), -1));
    assertThrows(NullPointerException.class, () -> store.requeueExpired(null, 1));
  }

  // ---------------------------------------------------------------------------------------------
  // cancelBatch

  @Test
  void cancelBatch_countsQueuedRunningAndFinishedJobs_andCancelsAtOnce() {
    Stored stored = insert(batch(10).maxConcurrency(6));
    List<ClaimedJob> claimed = claim(NODE_A, 6, at(1));
    store.complete(
        List.of(
            JobOutcome.succeeded(claimed.get(0), "ok"),
            JobOutcome.succeeded(claimed.get(1), "ok"),
            JobOutcome.failed(claimed.get(2), "boom")),
        at(2));

    CancellationSummary summary = store.cancelBatch(stored.id(), at(3));

    assertEquals(new CancellationSummary(stored.id(), 4, 3, 3), summary);
    Batch batch = batchOf(stored.id());
    assertEquals(BatchStatus.CANCELLED, batch.status());
    assertEquals(new Progress(10, 0, 3, 2, 1, 4), batch.progress());
    assertEquals(Optional.of(at(3)), batch.completedAt());
    assertFalse(batch.isFinished());
    assertEquals(0, store.countQueuedJobs());
    assertEquals(List.of(), claim(NODE_B, 10, at(4)));
    assertEquals(
        4, store.listJobs(stored.id(), JobQuery.withStatus(JobStatus.CANCELLED)).items().size());
  }

  @Test
  void cancelBatch_endsTheRunningJobsCancelledWhenTheyReport() {
    Stored stored = insert(batch(4).maxConcurrency(2));
    List<ClaimedJob> running = claim(NODE_A, 2, at(1));
    store.cancelBatch(stored.id(), at(2));

    CompletionResult result =
        store.complete(
            List.of(
                JobOutcome.succeeded(running.get(0), "finished anyway"),
                JobOutcome.cancelled(running.get(1))),
            at(3));

    assertEquals(Set.of(), result.rejected());
    for (ClaimedJob c : running) {
      Job job = jobOf(stored.id(), c.id());
      assertEquals(JobStatus.CANCELLED, job.status());
      assertEquals(Optional.empty(), job.result());
    }
    Batch batch = batchOf(stored.id());
    assertEquals(BatchStatus.CANCELLED, batch.status());
    assertEquals(new Progress(4, 0, 0, 0, 0, 4), batch.progress());
    assertTrue(batch.isFinished());
    assertTrue(batch.completedAt().isPresent());
  }

  @Test
  void cancelBatch_ofAPendingBatch_cancelsEveryJob() {
    Stored stored = insert(batch(3).status(BatchStatus.PENDING));

    CancellationSummary summary = store.cancelBatch(stored.id(), at(1));

    assertEquals(new CancellationSummary(stored.id(), 3, 0, 0), summary);
    Batch batch = batchOf(stored.id());
    assertEquals(BatchStatus.CANCELLED, batch.status());
    assertEquals(new Progress(3, 0, 0, 0, 0, 3), batch.progress());
    assertTrue(batch.isFinished());
    assertEquals(Optional.of(at(1)), batch.completedAt());
  }

  @Test
  void cancelBatch_ofAFinalBatch_throwsIllegalStateAndChangesNothing() {
    Stored completed = insert(batch(1).jobType("c"));
    claimAndComplete("c", at(1), Kind.SUCCEEDED);
    Stored failed = insert(batch(1).jobType("f"));
    claimAndComplete("f", at(1), Kind.FAILED);
    Stored cancelled = insert(batch(2).jobType("x"));
    store.claim(request(NODE_A, 1, at(1), Map.of("x", 1)));
    store.cancelBatch(cancelled.id(), at(2));

    for (Stored stored : List.of(completed, failed, cancelled)) {
      Batch before = batchOf(stored.id());
      assertThrows(
          IllegalStateException.class,
          () -> store.cancelBatch(stored.id(), at(3)),
          before.status().toString());
      assertEquals(before, batchOf(stored.id()));
    }
  }

  @Test
  void cancelBatch_unknownBatch_throwsBatchNotFound() {
    BatchId unknown = BatchId.random();

    BatchNotFoundException e =
        assertThrows(BatchNotFoundException.class, () -> store.cancelBatch(unknown, at(1)));

    assertEquals(unknown, e.batchId());
  }

  // ---------------------------------------------------------------------------------------------
  // retryFailed

  @Test
  void retryFailed_queuesFailedJobsAgainWithAttemptsReset() {
    Stored stored = insert(batch(5).maxConcurrency(5).maxAttempts(2));
    Map<JobId, ClaimedJob> claimed = byId(claim(NODE_A, 5, at(1)));
    List<JobOutcome> outcomes = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      ClaimedJob c = claimed.get(stored.jobId(i));
      outcomes.add(i == 1 || i == 3 ? JobOutcome.failed(c, "boom") : JobOutcome.succeeded(c, "ok"));
    }
    store.complete(outcomes, at(2));
    assertEquals(BatchStatus.PARTIAL, batchOf(stored.id()).status());

    Batch retried = store.retryFailed(stored.id(), at(3));

    assertEquals(BatchStatus.PROCESSING, retried.status());
    assertEquals(Optional.empty(), retried.completedAt());
    assertEquals(new Progress(5, 2, 0, 3, 0, 0), retried.progress());
    assertEquals(retried, batchOf(stored.id()));
    for (int i : new int[] {1, 3}) {
      Job job = jobOf(stored.id(), stored.jobId(i));
      assertEquals(JobStatus.QUEUED, job.status());
      assertEquals(0, job.attempt());
      assertEquals(Optional.empty(), job.finishedAt());
    }
    assertEquals(2, store.countQueuedJobs());
    List<ClaimedJob> again = claim(NODE_B, 1, at(3));
    again.addAll(claim(NODE_B, 1, at(4)));
    assertEquals(List.of(stored.jobId(1), stored.jobId(3)), claimedIds(again), "due at once");
    assertTrue(again.stream().allMatch(c -> c.attempt() == 1));
    store.complete(again.stream().map(c -> JobOutcome.succeeded(c, "ok")).toList(), at(5));
    Batch done = batchOf(stored.id());
    assertEquals(BatchStatus.COMPLETED, done.status());
    assertEquals(Optional.of(at(5)), done.completedAt());
  }

  @Test
  void retryFailed_ofAFailedBatch_queuesOnlyItsFailedJobs() {
    Stored stored = insert(batch(6).maxConcurrency(3).failurePolicy(FailurePolicy.maxFailures(1)));
    List<ClaimedJob> claimed = claim(NODE_A, 3, at(1));
    store.complete(
        List.of(
            JobOutcome.failed(claimed.get(0), "boom"),
            JobOutcome.failed(claimed.get(1), "boom"),
            JobOutcome.succeeded(claimed.get(2), "ok")),
        at(2));
    Batch aborted = batchOf(stored.id());
    assertEquals(BatchStatus.FAILED, aborted.status());
    assertEquals(new Progress(6, 0, 0, 1, 2, 3), aborted.progress());

    Batch retried = store.retryFailed(stored.id(), at(3));

    assertEquals(BatchStatus.PROCESSING, retried.status());
    assertEquals(new Progress(6, 2, 0, 1, 0, 3), retried.progress());
    assertEquals(
        Set.of(claimed.get(0).id(), claimed.get(1).id()),
        Set.copyOf(claimedIds(claim(NODE_A, 10, at(4)))));
  }

  @Test
  void retryFailed_whenNotAFinishedPartialOrFailedBatch_throwsIllegalState() {
    Stored pending = insert(batch(1).status(BatchStatus.PENDING));
    Stored processing = insert(batch(2).jobType("p"));
    claimAndComplete("p", at(1), Kind.FAILED);
    Stored completed = insert(batch(1).jobType("c"));
    claimAndComplete("c", at(1), Kind.SUCCEEDED);
    Stored cancelled = insert(batch(2).jobType("x"));
    claimAndComplete("x", at(1), Kind.FAILED);
    store.cancelBatch(cancelled.id(), at(2));
    Stored abortedButRunning =
        insert(batch(4).jobType("a").maxConcurrency(3).failurePolicy(FailurePolicy.maxFailures(1)));
    List<ClaimedJob> a = store.claim(request(NODE_A, 3, at(1), Map.of("a", 3)));
    store.complete(
        List.of(JobOutcome.failed(a.get(0), "1"), JobOutcome.failed(a.get(1), "2")), at(2));
    assertEquals(BatchStatus.FAILED, batchOf(abortedButRunning.id()).status());

    for (Stored stored : List.of(pending, processing, completed, cancelled, abortedButRunning)) {
      Batch before = batchOf(stored.id());
      assertThrows(
          IllegalStateException.class,
          () -> store.retryFailed(stored.id(), at(3)),
          before.status() + " " + before.progress());
      assertEquals(before, batchOf(stored.id()));
    }
  }

  @Test
  void retryFailed_withoutFailedJobs_throwsIllegalState() {
    Stored partial = insert(batch(2).jobType("p"));
    claimAndComplete("p", at(1), Kind.SUCCEEDED, Kind.CANCELLED);
    Stored failed = insert(batch(2).jobType("f"));
    claimAndComplete("f", at(1), Kind.CANCELLED, Kind.CANCELLED);
    assertEquals(BatchStatus.PARTIAL, batchOf(partial.id()).status());
    assertEquals(BatchStatus.FAILED, batchOf(failed.id()).status());

    for (Stored stored : List.of(partial, failed)) {
      Batch before = batchOf(stored.id());
      assertThrows(IllegalStateException.class, () -> store.retryFailed(stored.id(), at(2)));
      assertEquals(before, batchOf(stored.id()));
    }
  }

  @Test
  void retryFailed_unknownBatch_throwsBatchNotFound() {
    BatchId unknown = BatchId.random();

    BatchNotFoundException e =
        assertThrows(BatchNotFoundException.class, () -> store.retryFailed(unknown, at(1)));

    assertEquals(unknown, e.batchId());
  }

  // ---------------------------------------------------------------------------------------------
  // deleteBatch

  @Test
  void deleteBatch_removesAFinishedBatchAndItsJobs() {
    Stored done = insert(batch(2).jobType("d"));
    List<ClaimedJob> claimed = claimAndComplete("d", at(1), Kind.SUCCEEDED, Kind.FAILED);
    Stored cancelled = insert(batch(2).status(BatchStatus.PENDING));
    store.cancelBatch(cancelled.id(), at(2));
    Stored kept = insert(batch(1));

    store.deleteBatch(done.id());
    store.deleteBatch(cancelled.id());

    assertEquals(Optional.empty(), store.findBatch(done.id()));
    assertEquals(Optional.empty(), store.findBatch(cancelled.id()));
    assertThrows(BatchNotFoundException.class, () -> store.listJobs(done.id(), JobQuery.all()));
    assertEquals(List.of(kept.id()), batchIds(store.listBatches(BatchQuery.all())));
    assertEquals(
        Set.of(claimed.get(0).id()),
        store.complete(List.of(JobOutcome.succeeded(claimed.get(0), "gone")), at(3)).rejected());
    assertEquals(
        Set.of(claimed.get(1).id()),
        store
            .heartbeat(NODE_A, Map.of(claimed.get(1).id(), claimed.get(1).fencingToken()), at(4))
            .lost());
    assertEquals(Optional.of(kept.batch()), store.findBatch(kept.id()));
    assertEquals(1, store.countQueuedJobs());
    // each job row is gone, whatever its status (succeeded, failed, cancelled): a job's attempts
    // are read from its own row, not through its batch
    List<JobId> deleted = new ArrayList<>(ids(done.jobs()));
    deleted.addAll(ids(cancelled.jobs()));
    for (JobId job : deleted) {
      assertThrows(JobNotFoundException.class, () -> store.listJobAttempts(job), job.toString());
    }
  }

  @Test
  void deleteBatch_whenNotFinished_throwsIllegalStateAndKeepsIt() {
    Stored pending = insert(batch(1).status(BatchStatus.PENDING));
    Stored processing = insert(batch(2).jobType("p"));
    claimAndComplete("p", at(1), Kind.SUCCEEDED);
    Stored cancelledButRunning = insert(batch(2).jobType("x"));
    store.claim(request(NODE_A, 1, at(1), Map.of("x", 1)));
    store.cancelBatch(cancelledButRunning.id(), at(2));

    for (Stored stored : List.of(pending, processing, cancelledButRunning)) {
      Batch before = batchOf(stored.id());
      assertThrows(
          IllegalStateException.class,
          () -> store.deleteBatch(stored.id()),
          before.status() + " " + before.progress());
      assertEquals(before, batchOf(stored.id()));
      assertEquals(ids(stored.jobs()), ids(allJobs(stored.id())));
    }
  }

  @Test
  void deleteBatch_unknownBatch_throwsBatchNotFound() {
    BatchId unknown = BatchId.random();

    BatchNotFoundException e =
        assertThrows(BatchNotFoundException.class, () -> store.deleteBatch(unknown));

    assertEquals(unknown, e.batchId());
  }

  // ---------------------------------------------------------------------------------------------
  // countQueuedJobs

  @Test
  void countQueuedJobs_countsQueuedJobsOfProcessingBatchesOnly() {
    assertEquals(0, store.countQueuedJobs());
    Stored pending = insert(batch(5).status(BatchStatus.PENDING));
    insert(batch(4).jobType("a"));
    store.claim(request(NODE_A, 1, at(1), Map.of("a", 1)));
    insert(batch(2).jobType("r"));
    ClaimedJob retried = store.claim(request(NODE_A, 1, at(1), Map.of("r", 1))).get(0);
    store.complete(List.of(JobOutcome.retry(retried, "later", at(3600))), at(2));
    Stored cancelled = insert(batch(3).jobType("x"));
    store.cancelBatch(cancelled.id(), at(2));
    insert(batch(1).jobType("c"));
    claimAndComplete("c", at(2), Kind.SUCCEEDED);

    // 3 of "a" plus 2 of "r" (one waiting for its retry time)
    assertEquals(5, store.countQueuedJobs());
    store.startBatch(pending.id(), at(3));
    assertEquals(10, store.countQueuedJobs());
  }

  // ---------------------------------------------------------------------------------------------
  // subscribe (a hint: a store may call back spuriously, or never, but never after close)

  @Test
  void subscribe_closedSubscription_getsNoCallbacks_andClosesTwiceQuietly() {
    AtomicInteger calls = new AtomicInteger();
    Subscription subscription = store.subscribe(calls::incrementAndGet);

    subscription.close();
    subscription.close();
    makeWorkAppear();

    assertEquals(0, calls.get());
  }

  @Test
  void subscribe_throwingCallback_doesNotFailTheChange() {
    Subscription subscription =
        store.subscribe(
            () -> {
              throw new IllegalStateException("a subscriber's bug (expected by the test)");
            });
    try {
      List<BatchId> batches = makeWorkAppear();

      assertEquals(6, store.countQueuedJobs());
      for (BatchId id : batches) {
        assertEquals(BatchStatus.PROCESSING, batchOf(id).status());
      }
    } finally {
      subscription.close();
    }
  }

  // subscribeFinished (a hint like subscribe; a store reports at least what it finished itself)

  @Test
  void subscribeFinished_reportsBatchesFinishedByOutcomes_cancellation_expiryAndPolicy() {
    Set<BatchId> reported = ConcurrentHashMap.newKeySet();
    Subscription subscription = store.subscribeFinished(reported::add);
    try {
      Stored succeeded = insert(batch(2).jobType("s"));
      claimAndComplete("s", at(1), Kind.SUCCEEDED, Kind.FAILED);
      Stored cancelled = insert(batch(2).jobType("c"));
      store.cancelBatch(cancelled.id(), at(1));
      Stored expired = insert(batch(1).jobType("e").maxAttempts(1));
      assertEquals(1, store.claim(request(NODE_A, 1, at(1), Map.of("e", 1))).size());
      store.requeueExpired(at(1).plus(LEASE).plusSeconds(1), 10);
      Stored aborted = insert(batch(3).jobType("a").failurePolicy(new FailurePolicy(0, 1.0)));
      claimAndComplete("a", at(2), Kind.FAILED);
      Set<BatchId> finished = Set.of(succeeded.id(), cancelled.id(), expired.id(), aborted.id());
      for (BatchId id : finished) {
        assertTrue(batchOf(id).isFinished(), "finished: " + batchOf(id));
      }

      Await.until(
          "every finished batch is reported, got " + reported,
          () -> reported.containsAll(finished));
    } finally {
      subscription.close();
    }
  }

  @Test
  void subscribeFinished_reportsACancelledBatch_whenItsLastRunningJobEnds_notBefore() {
    Set<BatchId> reported = ConcurrentHashMap.newKeySet();
    Subscription subscription = store.subscribeFinished(reported::add);
    try {
      Stored stored = insert(batch(2));
      List<ClaimedJob> claimed = claim(NODE_A, 1, at(1));
      store.cancelBatch(stored.id(), at(2));
      Stored marker = insert(batch(1).jobType("m"));
      claimAndComplete("m", at(2), Kind.SUCCEEDED);
      Await.until("the marker batch is reported", () -> reported.contains(marker.id()));
      assertFalse(reported.contains(stored.id()), "reported while a job still ran");

      store.complete(List.of(JobOutcome.cancelled(claimed.get(0))), at(3));

      Await.until("the cancelled batch is reported", () -> reported.contains(stored.id()));
    } finally {
      subscription.close();
    }
  }

  @Test
  void subscribeFinished_closedSubscription_getsNoCallbacks_throwingOneIsKept() {
    AtomicInteger closedCalls = new AtomicInteger();
    Subscription closed = store.subscribeFinished(id -> closedCalls.incrementAndGet());
    closed.close();
    closed.close();
    AtomicInteger throwingCalls = new AtomicInteger();
    Subscription throwing =
        store.subscribeFinished(
            id -> {
              throwingCalls.incrementAndGet();
              throw new IllegalStateException("a subscriber's bug (expected by the test)");
            });
    try {
      Stored first = insert(batch(1).jobType("x"));
      claimAndComplete("x", at(1), Kind.SUCCEEDED);
      Stored second = insert(batch(1).jobType("y"));
      claimAndComplete("y", at(1), Kind.SUCCEEDED);

      assertTrue(batchOf(first.id()).isFinished() && batchOf(second.id()).isFinished());
      Await.until("the throwing subscriber hears both", () -> throwingCalls.get() >= 2);
      assertEquals(0, closedCalls.get());
    } finally {
      throwing.close();
    }
  }

  /**
   * Makes each change that the {@link JobStore#subscribe} Javadoc names as new work: a batch
   * created started ({@code "w"}, 3 jobs) and one started later ({@code "p"}, 2 jobs); a retry, a
   * release and an expired lease (all three jobs of {@code "w"}); failed jobs retried ({@code "f"},
   * 1 job). Afterwards 6 jobs are queued.
   *
   * @return the ids of the three batches, all PROCESSING
   */
  protected List<BatchId> makeWorkAppear() {
    Stored started = insert(batch(3).jobType("w").maxAttempts(3));
    Stored pending = insert(batch(2).jobType("p").status(BatchStatus.PENDING));
    store.startBatch(pending.id(), at(1));
    List<ClaimedJob> claimed = store.claim(request(NODE_A, 3, at(1), Map.of("w", 3)));
    assertEquals(3, claimed.size());
    store.complete(
        List.of(
            JobOutcome.retry(claimed.get(0), "again", at(2)), JobOutcome.released(claimed.get(1))),
        at(2));
    store.requeueExpired(at(1).plus(LEASE).plusSeconds(1), 10);
    Stored failed = insert(batch(1).jobType("f"));
    claimAndComplete("f", at(2), Kind.FAILED);
    store.retryFailed(failed.id(), at(3));
    return List.of(started.id(), pending.id(), failed.id());
  }

  // ---------------------------------------------------------------------------------------------
  // arguments

  @Test
  void methods_rejectNullArguments() {
    Stored stored = insert(batch(1));
    Batch batch = newBatch(1, BatchStatus.PENDING);
    BatchId id = stored.id();

    assertAll(
        () -> assertThrows(NullPointerException.class, () -> store.insertBatch(null, jobs(1))),
        () -> assertThrows(NullPointerException.class, () -> store.insertBatch(batch, null)),
        () -> assertThrows(NullPointerException.class, () -> store.findBatch(null)),
        () -> assertThrows(NullPointerException.class, () -> store.listBatches(null)),
        () -> assertThrows(NullPointerException.class, () -> store.listJobs(null, JobQuery.all())),
        () -> assertThrows(NullPointerException.class, () -> store.listJobs(id, null)),
        () -> assertThrows(NullPointerException.class, () -> store.startBatch(null, at(1))),
        () -> assertThrows(NullPointerException.class, () -> store.claim(null)),
        () -> assertThrows(NullPointerException.class, () -> store.complete(null, at(1))),
        () -> assertThrows(NullPointerException.class, () -> store.complete(List.of(), null)),
        () ->
            assertThrows(
                NullPointerException.class,
                () -> store.complete(Collections.singletonList(null), at(1))),
        () ->
            assertThrows(NullPointerException.class, () -> store.heartbeat(null, Map.of(), at(1))),
        () -> assertThrows(NullPointerException.class, () -> store.heartbeat(NODE_A, null, at(1))),
        () ->
            assertThrows(NullPointerException.class, () -> store.heartbeat(NODE_A, Map.of(), null)),
        () ->
            assertThrows(
                NullPointerException.class, () -> store.heartbeat(NODE_A, Map.of(), at(1), null)),
        () -> assertThrows(NullPointerException.class, () -> store.listJobAttempts(null)),
        () -> assertThrows(NullPointerException.class, () -> store.purgeHistory(null, 1)),
        () -> assertThrows(NullPointerException.class, () -> store.cancelBatch(null, at(1))),
        () -> assertThrows(NullPointerException.class, () -> store.cancelBatch(id, null)),
        () -> assertThrows(NullPointerException.class, () -> store.retryFailed(null, at(1))),
        () -> assertThrows(NullPointerException.class, () -> store.deleteBatch(null)),
        () -> assertThrows(NullPointerException.class, () -> store.subscribe(null)),
        () -> assertThrows(NullPointerException.class, () -> store.subscribeFinished(null)));
    Stored keyed = insert(batch(1).idempotencyKey("taken"));
    Batch sameKey = batch(1).idempotencyKey("taken").build();
    assertThrows(
        NullPointerException.class,
        () -> store.insertBatch(sameKey, Collections.singletonList(null)),
        "a null job is refused even when the key is taken");
    assertEquals(Optional.of(stored.batch()), store.findBatch(id), "nothing changed");
    assertEquals(Optional.of(keyed.batch()), store.findBatch(keyed.id()));
    assertEquals(Optional.empty(), store.findBatch(batch.id()));
  }

  // ---------------------------------------------------------------------------------------------
  // concurrency

  /** How many randomised rounds the concurrency test runs. */
  protected int concurrencyRounds() {
    return 3;
  }

  @Test
  void concurrentNodes_neverOverrunConcurrencyOrClaimAJobTwice_andKeepProgressExact()
      throws Exception {
    long seed = Long.getLong("batchkit.seed", System.nanoTime());
    LOG.info("concurrency contract for {} with seed {}", getClass().getSimpleName(), seed);
    for (int round = 0; round < concurrencyRounds(); round++) {
      concurrentRound(seed + round * 1_000_003L, "round " + round + " of seed " + seed);
    }
  }

  private void concurrentRound(long seed, String where) throws Exception {
    int jobCount = 2_000;
    int maxConcurrency = 5;
    int maxAttempts = 3;
    int threads = 8;
    String jobType = "concurrent-" + Long.toHexString(seed);
    Stored stored =
        insert(
            batch(jobCount)
                .jobType(jobType)
                .maxConcurrency(maxConcurrency)
                .maxAttempts(maxAttempts));
    BatchId id = stored.id();
    AtomicLong clock = new AtomicLong();
    AtomicInteger running = new AtomicInteger();
    AtomicInteger peak = new AtomicInteger();
    Set<JobId> inFlight = ConcurrentHashMap.newKeySet();
    Set<Long> tokens = ConcurrentHashMap.newKeySet();
    Map<JobId, JobStatus> endings = new ConcurrentHashMap<>();
    ConcurrentLinkedQueue<String> violations = new ConcurrentLinkedQueue<>();
    CountDownLatch start = new CountDownLatch(1);
    List<Callable<Integer>> nodes = new ArrayList<>();
    for (int t = 0; t < threads; t++) {
      String node = "node-" + t;
      Random random = new Random(seed + t);
      nodes.add(
          () -> {
            start.await();
            int rounds = 0;
            while (violations.isEmpty()) {
              rounds++;
              Instant now = T0.plusMillis(clock.incrementAndGet());
              List<ClaimedJob> claimed =
                  store.claim(
                      new ClaimRequest(
                          node,
                          1 + random.nextInt(3),
                          now,
                          now.plus(Duration.ofDays(1)),
                          AGING_STEP,
                          Map.of(jobType, 3)));
              if (claimed.isEmpty()) {
                Batch batch = batchOf(id);
                if (batch.progress().processing() > maxConcurrency) {
                  violations.add("snapshot shows " + batch.progress());
                }
                if (batch.isFinished()) {
                  return rounds;
                }
                Thread.yield();
                continue;
              }
              Map<JobId, Long> leases = new HashMap<>();
              for (ClaimedJob c : claimed) {
                if (!inFlight.add(c.id())) {
                  violations.add("job " + c.id() + " claimed while it was PROCESSING");
                }
                if (!tokens.add(c.fencingToken())) {
                  violations.add("token " + c.fencingToken() + " handed out twice");
                }
                if (endings.containsKey(c.id())) {
                  violations.add("job " + c.id() + " claimed after it ended");
                }
                int runningNow = running.incrementAndGet();
                peak.accumulateAndGet(runningNow, Math::max);
                if (runningNow > maxConcurrency) {
                  violations.add(runningNow + " jobs running at once");
                }
                leases.put(c.id(), c.fencingToken());
              }
              long processing = batchOf(id).progress().processing();
              if (processing > maxConcurrency) {
                violations.add("snapshot shows " + processing + " jobs processing");
              }
              HeartbeatResult heartbeat =
                  store.heartbeat(node, leases, now.plus(Duration.ofDays(2)));
              if (!heartbeat.lost().isEmpty() || !heartbeat.cancelRequested().isEmpty()) {
                violations.add("heartbeat reported " + heartbeat);
              }
              List<JobOutcome> outcomes = new ArrayList<>();
              for (ClaimedJob c : claimed) {
                int roll = random.nextInt(100);
                Kind kind;
                if (roll < 5) {
                  kind = Kind.RELEASED;
                } else if (roll < 20 && c.attempt() < maxAttempts) {
                  kind = Kind.RETRY;
                } else if (roll < 35) {
                  kind = Kind.FAILED;
                } else {
                  kind = Kind.SUCCEEDED;
                }
                if (kind == Kind.SUCCEEDED || kind == Kind.FAILED) {
                  JobStatus ending =
                      kind == Kind.SUCCEEDED ? JobStatus.SUCCEEDED : JobStatus.FAILED;
                  if (endings.putIfAbsent(c.id(), ending) != null) {
                    violations.add("job " + c.id() + " ended twice");
                  }
                }
                outcomes.add(outcome(c, kind, now));
              }
              // let go before the store does, so that the counter never runs ahead of the store
              for (ClaimedJob c : claimed) {
                inFlight.remove(c.id());
                running.decrementAndGet();
              }
              CompletionResult result = store.complete(outcomes, now);
              if (!result.rejected().isEmpty()) {
                violations.add("outcomes rejected: " + result.rejected());
              }
              for (Batch snapshot : result.batches()) {
                if (snapshot.progress().processing() > maxConcurrency) {
                  violations.add("completion snapshot shows " + snapshot.progress());
                }
              }
            }
            return rounds;
          });
    }

    runConcurrently(nodes, start);

    assertEquals(List.of(), List.copyOf(violations), where);
    assertTrue(peak.get() <= maxConcurrency, where);
    assertEquals(jobCount, endings.size(), where);
    long succeeded = endings.values().stream().filter(s -> s == JobStatus.SUCCEEDED).count();
    Progress expected = new Progress(jobCount, 0, 0, succeeded, jobCount - succeeded, 0);
    Batch done = batchOf(id);
    assertEquals(expected, done.progress(), where);
    assertEquals(BatchStatusRule.finalStatus(expected, false, false), done.status(), where);
    assertTrue(done.completedAt().isPresent(), where);
    for (Job job : allJobs(id)) {
      assertEquals(endings.get(job.id()), job.status(), where + ": job " + job.id());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // helpers, protected for the tests of each store

  /** Returns {@link #T0} plus {@code seconds}. */
  protected static Instant at(long seconds) {
    return T0.plusSeconds(seconds);
  }

  /**
   * Returns a valid batch of {@code jobCount} queued jobs in {@code status} ({@code PENDING} or
   * {@code PROCESSING}), created at {@link #T0}, with the other settings of {@link #batch(int)}.
   */
  protected static Batch newBatch(int jobCount, BatchStatus status) {
    return batch(jobCount).status(status).build();
  }

  /**
   * Returns a builder of a valid batch of {@code jobCount} queued jobs: PROCESSING, of type {@link
   * #JOB_TYPE}, NORMAL priority, concurrency 100, 3 attempts, no failure policy, created and
   * started at {@link #T0}.
   */
  protected static BatchSpec batch(int jobCount) {
    return new BatchSpec(jobCount);
  }

  /** Returns {@code count} new jobs with distinct time-ordered ids and payloads. */
  protected static List<NewJob> jobs(int count) {
    List<NewJob> jobs = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      jobs.add(new NewJob(JobId.random(), "payload " + i));
    }
    return jobs;
  }

  /**
   * Returns {@code count} new jobs whose ids share {@code first}'s high half and count up by one
   * from its low half, as the service makes a batch's ids.
   */
  protected static List<NewJob> consecutiveJobs(UUID first, int count) {
    List<NewJob> jobs = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      UUID id = new UUID(first.getMostSignificantBits(), first.getLeastSignificantBits() + i);
      jobs.add(new NewJob(new JobId(id), "payload " + i));
    }
    return jobs;
  }

  /** Inserts the batch {@code spec} builds with as many new jobs as it counts. */
  protected Stored insert(BatchSpec spec) {
    Batch batch = spec.build();
    List<NewJob> jobs = jobs((int) batch.progress().total());
    InsertResult result = store.insertBatch(batch, jobs);
    assertTrue(result.created(), "batch " + batch.id() + " was created");
    return new Stored(batch, jobs);
  }

  /** Returns a claim request of the default lease and ageing step, for {@link #JOB_TYPE} only. */
  protected static ClaimRequest request(String nodeId, int maxJobs, Instant now) {
    return request(nodeId, maxJobs, now, Map.of(JOB_TYPE, maxJobs));
  }

  /** Returns a claim request of the default lease and ageing step. */
  protected static ClaimRequest request(
      String nodeId, int maxJobs, Instant now, Map<String, Integer> jobTypes) {
    return new ClaimRequest(nodeId, maxJobs, now, now.plus(LEASE), AGING_STEP, jobTypes);
  }

  /** Claims up to {@code maxJobs} jobs of type {@link #JOB_TYPE}, leased for {@link #LEASE}. */
  protected List<ClaimedJob> claim(String nodeId, int maxJobs, Instant now) {
    return new ArrayList<>(store.claim(request(nodeId, maxJobs, now)));
  }

  /**
   * Claims one job of {@code jobType} per kind (all of them, or fails) on {@link #NODE_A}, and ends
   * the claimed jobs with those kinds in one call.
   */
  protected List<ClaimedJob> claimAndComplete(String jobType, Instant now, Kind... kinds) {
    List<ClaimedJob> claimed =
        store.claim(request(NODE_A, kinds.length, now, Map.of(jobType, kinds.length)));
    assertEquals(kinds.length, claimed.size(), "jobs of type " + jobType + " claimed");
    List<JobOutcome> outcomes = new ArrayList<>();
    for (int i = 0; i < kinds.length; i++) {
      outcomes.add(outcome(claimed.get(i), kinds[i], now));
    }
    assertEquals(Set.of(), store.complete(outcomes, now).rejected());
    return claimed;
  }

  /** Returns an outcome of {@code kind} for {@code job}; a retry is due at {@code now}. */
  protected static JobOutcome outcome(ClaimedJob job, Kind kind, Instant now) {
    return switch (kind) {
      case SUCCEEDED -> JobOutcome.succeeded(job, "result of " + job.id());
      case FAILED -> JobOutcome.failed(job, "failure of " + job.id());
      case RETRY -> JobOutcome.retry(job, "retry of " + job.id(), now);
      case CANCELLED -> JobOutcome.cancelled(job);
      case RELEASED -> JobOutcome.released(job);
    };
  }

  /** Reads a batch that must exist. */
  protected Batch batchOf(BatchId id) {
    return store.findBatch(id).orElseThrow(() -> new AssertionError("batch " + id + " is missing"));
  }

  /** Reads every job of a batch, in order. */
  protected List<Job> allJobs(BatchId id) {
    return Stores.allJobs(store, id);
  }

  /** Reads one job of a batch. */
  protected Job jobOf(BatchId batchId, JobId jobId) {
    return allJobs(batchId).stream()
        .filter(j -> j.id().equals(jobId))
        .findFirst()
        .orElseThrow(() -> new AssertionError("job " + jobId + " is missing"));
  }

  protected static List<JobId> ids(List<?> jobs) {
    List<JobId> ids = new ArrayList<>();
    for (Object job : jobs) {
      if (job instanceof NewJob n) {
        ids.add(n.id());
      } else if (job instanceof Job j) {
        ids.add(j.id());
      } else if (job instanceof ClaimedJob c) {
        ids.add(c.id());
      } else {
        throw new IllegalArgumentException("not a job: " + job);
      }
    }
    return ids;
  }

  protected static List<JobId> claimedIds(List<ClaimedJob> claimed) {
    return claimed.stream().map(ClaimedJob::id).toList();
  }

  protected static Map<JobId, ClaimedJob> byId(List<ClaimedJob> claimed) {
    Map<JobId, ClaimedJob> map = new LinkedHashMap<>();
    claimed.forEach(c -> map.put(c.id(), c));
    return map;
  }

  protected static List<BatchId> batchIds(List<Batch> batches) {
    return batches.stream().map(Batch::id).toList();
  }

  protected static List<BatchId> batchIds(Page<Batch> page) {
    return batchIds(page.items());
  }

  /**
   * Runs {@code calls} on their own threads, opens {@code start} once all are submitted, and
   * returns their results; fails the test if one throws or they take longer than a minute.
   */
  protected static <T> List<T> runConcurrently(List<Callable<T>> calls, CountDownLatch start)
      throws InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(calls.size());
    try {
      List<Future<T>> futures = new ArrayList<>();
      for (Callable<T> call : calls) {
        futures.add(pool.submit(call));
      }
      start.countDown();
      List<T> results = new ArrayList<>();
      for (Future<T> future : futures) {
        try {
          results.add(future.get(60, TimeUnit.SECONDS));
        } catch (ExecutionException e) {
          throw new AssertionError("a concurrent call failed", e.getCause());
        } catch (TimeoutException e) {
          throw new AssertionError("concurrent calls did not end within a minute", e);
        }
      }
      return results;
    } finally {
      pool.shutdownNow();
      if (!pool.awaitTermination(10, TimeUnit.SECONDS)) {
        LOG.warn("concurrent calls still run after the test");
      }
    }
  }

  /** A batch inserted by {@link #insert}, with its jobs in order. */
  protected record Stored(Batch batch, List<NewJob> jobs) {
    public BatchId id() {
      return batch.id();
    }

    public JobId jobId(int index) {
      return jobs.get(index).id();
    }

    public String payloadOf(JobId id) {
      return jobs.stream().filter(j -> j.id().equals(id)).findFirst().orElseThrow().payload();
    }
  }

  /** Builds a valid {@link Batch} record for a test; not thread-safe. */
  protected static final class BatchSpec {
    private final int jobCount;
    private BatchId id = BatchId.random();
    private String name = "contract batch";
    private String jobType = JOB_TYPE;
    private Priority priority = Priority.NORMAL;
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private int maxConcurrency = 100;
    private int maxAttempts = 3;
    private Duration jobTimeout = Duration.ofSeconds(30);
    private FailurePolicy failurePolicy = FailurePolicy.never();
    private String idempotencyKey;
    private BatchStatus status = BatchStatus.PROCESSING;
    private Progress progress;
    private Instant createdAt = T0;
    private Instant startedAt;
    private Instant updatedAt;
    private Instant completedAt;

    private BatchSpec(int jobCount) {
      this.jobCount = jobCount;
    }

    public BatchSpec id(BatchId id) {
      this.id = id;
      return this;
    }

    public BatchSpec name(String name) {
      this.name = name;
      return this;
    }

    public BatchSpec jobType(String jobType) {
      this.jobType = jobType;
      return this;
    }

    public BatchSpec priority(Priority priority) {
      this.priority = priority;
      return this;
    }

    public BatchSpec metadata(String key, String value) {
      metadata.put(key, value);
      return this;
    }

    public BatchSpec maxConcurrency(int maxConcurrency) {
      this.maxConcurrency = maxConcurrency;
      return this;
    }

    public BatchSpec maxAttempts(int maxAttempts) {
      this.maxAttempts = maxAttempts;
      return this;
    }

    public BatchSpec jobTimeout(Duration jobTimeout) {
      this.jobTimeout = jobTimeout;
      return this;
    }

    public BatchSpec failurePolicy(FailurePolicy failurePolicy) {
      this.failurePolicy = failurePolicy;
      return this;
    }

    public BatchSpec idempotencyKey(String idempotencyKey) {
      this.idempotencyKey = idempotencyKey;
      return this;
    }

    /** Sets the status; a PROCESSING batch is started when it is created, unless set otherwise. */
    public BatchSpec status(BatchStatus status) {
      this.status = status;
      return this;
    }

    /** Overrides the progress, which otherwise counts every job as queued. */
    public BatchSpec progress(Progress progress) {
      this.progress = progress;
      return this;
    }

    public BatchSpec createdAt(Instant createdAt) {
      this.createdAt = createdAt;
      return this;
    }

    public BatchSpec startedAt(Instant startedAt) {
      this.startedAt = startedAt;
      return this;
    }

    public BatchSpec updatedAt(Instant updatedAt) {
      this.updatedAt = updatedAt;
      return this;
    }

    public BatchSpec completedAt(Instant completedAt) {
      this.completedAt = completedAt;
      return this;
    }

    public Batch build() {
      Instant started = startedAt;
      if (started == null && status != BatchStatus.PENDING) {
        started = createdAt;
      }
      return new Batch(
          id,
          name,
          jobType,
          priority,
          metadata,
          maxConcurrency,
          maxAttempts,
          jobTimeout,
          failurePolicy,
          Optional.ofNullable(idempotencyKey),
          status,
          progress == null ? Progress.allQueued(jobCount) : progress,
          createdAt,
          Optional.ofNullable(started),
          updatedAt == null ? (started == null ? createdAt : started) : updatedAt,
          Optional.ofNullable(completedAt),
          Optional.empty());
    }
  }
}
