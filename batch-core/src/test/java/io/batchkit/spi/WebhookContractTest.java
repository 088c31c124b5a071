package io.batchkit.spi;

import static io.batchkit.spi.JobStoreContractTest.at;
import static io.batchkit.spi.JobStoreContractTest.batch;
import static io.batchkit.spi.JobStoreContractTest.jobs;
import static io.batchkit.spi.JobStoreContractTest.request;
import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchEvent.Type;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.Webhook;
import io.batchkit.spi.JobOutcome.Kind;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract of webhook deliveries ({@link JobStore#claimWebhookDeliveries} and the two methods
 * after it): a batch's webhooks are kept with it; each event one of them is told of writes one
 * delivery per such webhook in the step that records the event; claims lease a delivery to one
 * claimer; a try's result counts only while its claim is the delivery's latest. Kept apart from
 * {@link JobStoreContractTest} so that each file reads as one subject. Ships in batch-core's
 * test-jar; a store joins by extending it.
 */
public abstract class WebhookContractTest {
  private static final URI FINISH = URI.create("http://finish.example/hook");
  private static final URI ALL = URI.create("https://all.example/hook?tenant=a&x=1");
  private static final URI CANCEL = URI.create("http://cancel.example/hook");

  /** The store under test: a fresh one, or an emptied one, per test. */
  protected JobStore store;

  /** Returns a new, empty store. Called once before each test. */
  protected abstract JobStore newStore();

  @BeforeEach
  void createStore() {
    store = newStore();
  }

  /** Closes the store when it is {@link AutoCloseable} (a subclass that shares one overrides). */
  @AfterEach
  protected void closeStore() throws Exception {
    if (store instanceof AutoCloseable closeable) {
      closeable.close();
    }
  }

  @Test
  void finish_writesOneDeliveryPerWebhookToldOfIt_withTheBatchAsTheEventLeftIt() {
    BatchId id =
        insert(
            BatchStatus.PROCESSING,
            2,
            Webhook.onFinish(FINISH),
            new Webhook(ALL, Webhook.EVENTS),
            new Webhook(CANCEL, Set.of(Type.CANCELLED)));
    finishAll(id, 2, at(2));

    List<WebhookDelivery> claimed = store.claimWebhookDeliveries(at(3), at(63), 10);

    assertEquals(3, claimed.size(), claimed.toString());
    WebhookDelivery started = claimed.get(0); // due first: written when the batch was created
    assertAll(
        () -> assertEquals(Type.STARTED, started.event()),
        () -> assertEquals(ALL, started.url()),
        () -> assertEquals(id, started.batchId()),
        () -> assertEquals(1, started.attempt()),
        () -> assertTrue(started.body().contains("\"status\":\"PROCESSING\""), started.body()));
    Set<URI> finishedTo = new HashSet<>();
    for (WebhookDelivery finished : claimed.subList(1, 3)) {
      finishedTo.add(finished.url());
      assertAll(
          () -> assertEquals(Type.FINISHED, finished.event()),
          () -> assertTrue(finished.body().startsWith("{\"event\":\"FINISHED\""), finished.body()),
          () -> assertTrue(finished.body().contains("\"id\":\"" + id + "\""), finished.body()),
          () -> assertTrue(finished.body().contains("\"status\":\"COMPLETED\""), finished.body()),
          () -> assertTrue(finished.body().contains("\"succeeded\":2"), finished.body()),
          () -> assertTrue(finished.body().contains("\"percentage\":100.0"), finished.body()));
    }
    assertEquals(Set.of(FINISH, ALL), finishedTo);
    assertEquals(List.of(), store.claimWebhookDeliveries(at(4), at(64), 10), "each was once");
  }

  @Test
  void batchWithoutWebhooks_writesNoDelivery() {
    BatchId id = insert(BatchStatus.PROCESSING, 1);
    finishAll(id, 1, at(1));

    assertEquals(List.of(), store.claimWebhookDeliveries(at(2), at(62), 10));
  }

  @Test
  void startBatch_andCancelBatch_writeTheirDeliveries_theCancelAlsoTheFinish() {
    BatchId id =
        insert(
            BatchStatus.PENDING,
            2,
            new Webhook(ALL, Set.of(Type.STARTED, Type.CANCELLED, Type.FINISHED)));
    store.startBatch(id, at(1));
    store.cancelBatch(id, at(2));

    List<WebhookDelivery> claimed = store.claimWebhookDeliveries(at(3), at(63), 10);

    assertEquals(
        List.of(Type.STARTED, Type.CANCELLED, Type.FINISHED),
        claimed.stream().map(WebhookDelivery::event).toList());
    assertTrue(claimed.get(0).body().contains("\"status\":\"PROCESSING\""), claimed.get(0).body());
    assertTrue(claimed.get(2).body().contains("\"status\":\"CANCELLED\""), claimed.get(2).body());
    assertTrue(claimed.get(2).body().contains("\"cancelled\":2"), claimed.get(2).body());
  }

  @Test
  void cancelWithJobsRunning_writesTheFinish_whenTheLastOneEnds() {
    BatchId id =
        insert(BatchStatus.PROCESSING, 1, new Webhook(ALL, Set.of(Type.CANCELLED, Type.FINISHED)));
    List<ClaimedJob> running = store.claim(request(JobStoreContractTest.NODE_A, 1, at(1)));
    store.cancelBatch(id, at(2));
    assertEquals(
        List.of(Type.CANCELLED),
        store.claimWebhookDeliveries(at(3), at(63), 10).stream()
            .map(WebhookDelivery::event)
            .toList());

    store.complete(List.of(JobOutcome.cancelled(running.get(0))), at(4));

    List<WebhookDelivery> finished = store.claimWebhookDeliveries(at(5), at(65), 10);
    assertEquals(1, finished.size(), finished.toString());
    assertEquals(Type.FINISHED, finished.get(0).event());
  }

  @Test
  void claim_leasesADeliveryToOneClaim_untilItsLeaseEnds_andOnlyTheLatestClaimRecordsItsTry() {
    BatchId id = insert(BatchStatus.PROCESSING, 1, Webhook.onFinish(FINISH));
    finishAll(id, 1, at(1));

    WebhookDelivery first = single(store.claimWebhookDeliveries(at(2), at(62), 10));
    assertEquals(List.of(), store.claimWebhookDeliveries(at(61), at(121), 10), "leased");
    WebhookDelivery second = single(store.claimWebhookDeliveries(at(62), at(122), 10));

    assertEquals(first.id(), second.id());
    assertEquals(2, second.attempt());
    assertFalse(store.webhookDelivered(first), "a claim whose lease ran out records nothing");
    assertFalse(store.webhookFailed(first, "HTTP 500", Optional.of(at(70))));
    assertTrue(store.webhookDelivered(second));
    assertFalse(store.webhookDelivered(second), "delivered once");
    assertEquals(List.of(), store.claimWebhookDeliveries(at(1_000), at(1_060), 10), "gone");
  }

  @Test
  void failed_makesTheDeliveryDueAtItsRetryTime_orNeverAgainWhenItsTriesRanOut() {
    BatchId id = insert(BatchStatus.PROCESSING, 1, Webhook.onFinish(FINISH));
    finishAll(id, 1, at(1));
    WebhookDelivery first = single(store.claimWebhookDeliveries(at(2), at(62), 10));

    assertTrue(store.webhookFailed(first, "HTTP 503", Optional.of(at(100))));

    assertEquals(List.of(), store.claimWebhookDeliveries(at(99), at(159), 10), "not due yet");
    WebhookDelivery second = single(store.claimWebhookDeliveries(at(100), at(160), 10));
    assertEquals(2, second.attempt());
    assertEquals(first.body(), second.body());
    assertTrue(store.webhookFailed(second, "x".repeat(2_000), Optional.empty()));
    assertEquals(List.of(), store.claimWebhookDeliveries(at(100_000), at(100_060), 10));
  }

  @Test
  void purgeHistory_deletesGivenUpDeliveriesWrittenBeforeItsTime_only() {
    BatchId id = insert(BatchStatus.PROCESSING, 1, Webhook.onFinish(FINISH));
    finishAll(id, 1, at(10));
    WebhookDelivery claimed = single(store.claimWebhookDeliveries(at(11), at(71), 10));
    store.webhookFailed(claimed, "HTTP 410", Optional.empty());
    store.deleteBatch(id); // its events go; the given-up delivery stays for the retention

    assertEquals(0, store.purgeHistory(at(10), 100), "written at 10, not before it");
    assertEquals(1, store.purgeHistory(at(11), 100));
    assertEquals(0, store.purgeHistory(at(11), 100));
  }

  @Test
  void deleteBatch_keepsItsPendingDeliveries_aNotificationOutlivesItsBatch() {
    BatchId id = insert(BatchStatus.PROCESSING, 1, Webhook.onFinish(FINISH));
    finishAll(id, 1, at(1));

    store.deleteBatch(id);

    WebhookDelivery delivery = single(store.claimWebhookDeliveries(at(2), at(62), 10));
    assertEquals(id, delivery.batchId());
    assertTrue(store.webhookDelivered(delivery));
  }

  @Test
  void claim_takesAtMostMax_oldestDueFirst() {
    List<BatchId> ids = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      BatchId id = insert(BatchStatus.PROCESSING, 1, Webhook.onFinish(FINISH));
      finishAll(id, 1, at(10 - i)); // the last batch finished first
      ids.add(id);
    }

    List<WebhookDelivery> first = store.claimWebhookDeliveries(at(20), at(80), 2);

    assertEquals(List.of(ids.get(2), ids.get(1)), first.stream().map(d -> d.batchId()).toList());
    assertEquals(ids.get(0), single(store.claimWebhookDeliveries(at(20), at(80), 2)).batchId());
  }

  @Test
  void concurrentClaims_neverHandOneDeliveryToTwoClaimers() throws Exception {
    int batches = 40;
    for (int i = 0; i < batches; i++) {
      BatchId id = insert(BatchStatus.PROCESSING, 1, Webhook.onFinish(FINISH));
      finishAll(id, 1, at(1));
    }
    ConcurrentLinkedQueue<Long> taken = new ConcurrentLinkedQueue<>();
    CountDownLatch go = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> claimers = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        claimers.add(
            pool.submit(
                () -> {
                  go.await();
                  List<WebhookDelivery> claimed;
                  do {
                    claimed = store.claimWebhookDeliveries(at(2), at(62), 3);
                    claimed.forEach(d -> taken.add(d.id()));
                  } while (!claimed.isEmpty());
                  return null;
                }));
      }
      go.countDown();
      for (Future<?> claimer : claimers) {
        claimer.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }

    assertEquals(batches, taken.size(), "each taken once: " + taken);
    assertEquals(batches, new HashSet<>(taken).size());
  }

  @Test
  void finishByAnExpiredLease_writesTheFinish() {
    BatchId id = insert(BatchStatus.PROCESSING, 1, Webhook.onFinish(FINISH), 1);
    store.claim(request(JobStoreContractTest.NODE_A, 1, at(1)));

    store.requeueExpired(at(1).plus(JobStoreContractTest.LEASE).plus(Duration.ofMinutes(2)), 10);

    assertEquals(BatchStatus.FAILED, store.findBatch(id).orElseThrow().status());
    WebhookDelivery finished = single(store.claimWebhookDeliveries(at(1_000), at(1_060), 10));
    assertEquals(Type.FINISHED, finished.event());
    assertTrue(finished.body().contains("\"status\":\"FAILED\""), finished.body());
  }

  @Test
  void finishByATrippedFailurePolicy_writesTheFinishOnce() {
    Batch batch = batch(3).maxAttempts(1).failurePolicy(FailurePolicy.maxFailures(0)).build();
    store.insertBatch(
        batch,
        jobs(3),
        new StoredRequest(Optional.empty(), Optional.empty(), List.of(Webhook.onFinish(FINISH))));
    List<ClaimedJob> claimed = store.claim(request(JobStoreContractTest.NODE_A, 1, at(1)));

    store.complete(
        List.of(JobStoreContractTest.outcome(claimed.get(0), Kind.FAILED, at(2))), at(2));

    assertTrue(store.findBatch(batch.id()).orElseThrow().isFinished());
    WebhookDelivery finished = single(store.claimWebhookDeliveries(at(3), at(63), 10));
    assertEquals(Type.FINISHED, finished.event());
  }

  @Test
  void scheduledStart_writesTheStart() {
    Batch batch = batch(1).status(BatchStatus.PENDING).build();
    store.insertBatch(
        batch,
        jobs(1),
        new StoredRequest(
            Optional.empty(), Optional.of(at(5)), List.of(new Webhook(ALL, Set.of(Type.STARTED)))));
    assertEquals(List.of(), store.claimWebhookDeliveries(at(4), at(64), 10));

    store.startDueBatches(at(5));

    WebhookDelivery started = single(store.claimWebhookDeliveries(at(6), at(66), 10));
    assertEquals(Type.STARTED, started.event());
    assertTrue(started.body().contains("\"status\":\"PROCESSING\""), started.body());
  }

  @Test
  void batchFinishedAgainAfterRetryFailed_writesASecondFinish() {
    BatchId id = insert(BatchStatus.PROCESSING, 1, Webhook.onFinish(FINISH), 1);
    List<ClaimedJob> first = store.claim(request(JobStoreContractTest.NODE_A, 1, at(1)));
    store.complete(List.of(JobStoreContractTest.outcome(first.get(0), Kind.FAILED, at(1))), at(1));
    store.retryFailed(id, at(2));
    finishAll(id, 1, at(3));

    List<WebhookDelivery> finishes = store.claimWebhookDeliveries(at(4), at(64), 10);

    assertEquals(2, finishes.size(), finishes.toString());
    assertTrue(finishes.get(0).body().contains("\"status\":\"FAILED\""));
    assertTrue(finishes.get(1).body().contains("\"status\":\"COMPLETED\""));
  }

  @Test
  void methods_checkTheirArguments() {
    Instant now = at(1);
    assertAll(
        () ->
            assertThrows(
                NullPointerException.class, () -> store.claimWebhookDeliveries(null, now, 1)),
        () ->
            assertThrows(
                NullPointerException.class, () -> store.claimWebhookDeliveries(now, null, 1)),
        () ->
            assertThrows(
                IllegalArgumentException.class, () -> store.claimWebhookDeliveries(now, now, 1)),
        () ->
            assertThrows(
                IllegalArgumentException.class, () -> store.claimWebhookDeliveries(now, at(2), 0)),
        () -> assertThrows(NullPointerException.class, () -> store.webhookDelivered(null)),
        () ->
            assertThrows(
                NullPointerException.class,
                () -> store.webhookFailed(null, "e", Optional.empty())));
  }

  // ------------------------------------------------------------------ helpers

  private BatchId insert(BatchStatus status, int jobs, Webhook... webhooks) {
    return insert(status, jobs, List.of(webhooks), 3);
  }

  private BatchId insert(BatchStatus status, int jobs, Webhook webhook, int maxAttempts) {
    return insert(status, jobs, List.of(webhook), maxAttempts);
  }

  private BatchId insert(BatchStatus status, int jobs, List<Webhook> webhooks, int maxAttempts) {
    Batch batch = batch(jobs).status(status).maxAttempts(maxAttempts).build();
    InsertResult result =
        store.insertBatch(
            batch, jobs(jobs), new StoredRequest(Optional.empty(), Optional.empty(), webhooks));
    assertTrue(result.created());
    return batch.id();
  }

  /** Claims and ends every job of the one running batch, succeeded, at {@code now}. */
  private void finishAll(BatchId id, int jobs, Instant now) {
    List<ClaimedJob> claimed = store.claim(request(JobStoreContractTest.NODE_A, jobs, now));
    assertEquals(jobs, claimed.size(), "jobs of " + id);
    List<JobOutcome> outcomes = new ArrayList<>();
    for (ClaimedJob job : claimed) {
      outcomes.add(JobStoreContractTest.outcome(job, Kind.SUCCEEDED, now));
    }
    assertEquals(Set.of(), store.complete(outcomes, now).rejected());
    assertTrue(store.findBatch(id).orElseThrow().isFinished());
  }

  private static WebhookDelivery single(List<WebhookDelivery> claimed) {
    assertEquals(1, claimed.size(), claimed.toString());
    return claimed.get(0);
  }
}
