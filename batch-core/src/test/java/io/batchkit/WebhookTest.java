package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.TestServices;
import io.batchkit.testkit.WebhookReceiver;
import io.batchkit.testkit.WebhookReceiver.Received;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Webhooks through the public API, against a real HTTP server: a batch's finish is posted once,
 * signed; a failed try is tried again; per-batch webhooks hear of starts and cancellations; a
 * closing service sends what is due; bad settings are refused.
 */
class WebhookTest {
  private static final String SECRET = "a-secret-of-at-least-16-chars";
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final TestServices services = new TestServices();
  private final WebhookReceiver receiver = WebhookReceiver.start();

  @AfterEach
  void tearDown() {
    services.closeAll();
    receiver.close();
  }

  private BatchService service(BatchService.Builder builder) {
    return services.start(
        builder.processor("echo", ctx -> ctx.payload()).discoverProcessors(false));
  }

  @Test
  void finishedBatch_isPostedOnce_signed_withTheBatchInTheBody() {
    BatchService service =
        service(BatchService.builder().webhook(receiver.url()).webhookSecret(SECRET));

    Batch batch = service.submit(BatchRequest.builder("echo").items(TestServices.items(3)).build());
    service.awaitCompletion(batch.id(), WAIT);
    Received r = receiver.await(1, WAIT).get(0);

    assertAll(
        () -> assertEquals("FINISHED", r.event()),
        () -> assertEquals("application/json", r.contentType()),
        () -> assertTrue(WebhookReceiver.verifies(SECRET, r), r.signature()),
        () -> assertFalse(WebhookReceiver.verifies("another-secret-of-16-chars", r)),
        () -> assertTrue(r.body().contains("\"id\":\"" + batch.id() + "\""), r.body()),
        () -> assertTrue(r.body().contains("\"status\":\"COMPLETED\""), r.body()),
        () -> assertTrue(r.body().contains("\"succeeded\":3"), r.body()));
    service.close(); // its sender's last round: a duplicate would have been sent by now
    assertEquals(1, receiver.received().size(), receiver.received().toString());
  }

  @Test
  void failedTry_isTriedAgain_withTheSameDeliveryAndBody() {
    receiver.answer(500);
    BatchService service =
        service(BatchService.builder().webhook(receiver.url()).webhookSecret(SECRET));

    Batch batch = service.submit(BatchRequest.builder("echo").items(TestServices.items(1)).build());
    List<Received> got = receiver.await(2, WAIT);

    assertEquals(got.get(0).deliveryId(), got.get(1).deliveryId());
    assertEquals(got.get(0).body(), got.get(1).body());
    assertTrue(got.get(1).body().contains(batch.id().toString()));
    assertTrue(WebhookReceiver.verifies(SECRET, got.get(1)));
    assertTrue(
        got.get(1).at().isAfter(got.get(0).at().plusSeconds(4)), "after its backoff: " + got);
  }

  @Test
  void batchWebhook_hearsOfItsStartCancellationAndFinish_theServiceWebhookOnlyOfTheFinish() {
    JobStore store = JobStore.inMemory();
    BatchService service =
        service(
            BatchService.builder()
                .store(store)
                .allowUnknownJobTypes(true)
                .webhook(URI.create(receiver.url() + "?service"))
                .webhookSecret(SECRET));
    CountDownLatch gate = services.gate();
    BatchService blocking =
        services.start(
            BatchService.builder()
                .store(store)
                .discoverProcessors(false)
                .webhookSecret(SECRET)
                .processor(
                    "blocked",
                    ctx -> {
                      gate.await();
                      return "done";
                    }));

    Batch batch =
        service.createBatch(
            BatchRequest.builder("blocked")
                .items(TestServices.items(2))
                .maxConcurrency(1)
                .webhook(new Webhook(receiver.url(), Webhook.EVENTS))
                .build());
    blocking.startBatch(batch.id());
    receiver.await(1, WAIT);
    blocking.cancelBatch(batch.id());
    gate.countDown();
    blocking.awaitCompletion(batch.id(), WAIT);

    List<Received> got = receiver.await(4, WAIT);
    assertEquals(
        Set.of("STARTED", "CANCELLED", "FINISHED"),
        got.stream()
            .filter(r -> r.query() == null)
            .map(Received::event)
            .collect(Collectors.toSet()),
        got.toString());
    assertEquals(
        List.of("FINISHED"),
        got.stream().filter(r -> "service".equals(r.query())).map(Received::event).toList());
    services.closeAll(); // the senders' last rounds: anything more would have come by now
    assertEquals(4, receiver.received().size(), receiver.received().toString());
  }

  @Test
  void closingService_sendsWhatIsDue_beforeItReturns() {
    JobStore store = JobStore.inMemory();
    BatchService service = service(BatchService.builder().store(store).webhookSecret(SECRET));
    // a delivery written by the store alone: nothing wakes the sender, whose next poll is seconds
    // away, so only its last round at close can send it in time
    receiver.cancelledBatch(store);

    service.close();

    assertEquals(1, receiver.received().size(), "sent by the time close returned");
    assertEquals("CANCELLED", receiver.received().get(0).event());
  }

  @Test
  void storeThatKeepsNoWebhooks_isRefusedWebhooks_atBuild() {
    JobStore inMemory = JobStore.inMemory();
    // a store written before webhooks: every method forwarded but keepsWebhooks, left default
    JobStore older =
        (JobStore)
            Proxy.newProxyInstance(
                JobStore.class.getClassLoader(),
                new Class<?>[] {JobStore.class},
                (proxy, method, args) ->
                    method.isDefault() && method.getName().equals("keepsWebhooks")
                        ? InvocationHandler.invokeDefault(proxy, method, args)
                        : method.invoke(inMemory, args));

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                BatchService.builder()
                    .store(older)
                    .webhook(receiver.url())
                    .webhookSecret(SECRET)
                    .discoverProcessors(false)
                    .build());

    assertTrue(e.getMessage().contains("keeps webhooks"), e.getMessage());
  }

  @Test
  void settings_areCheckedEagerly() {
    URI url = receiver.url();
    assertAll(
        () ->
            assertThrows(
                IllegalArgumentException.class,
                () -> BatchService.builder().webhookSecret("short")),
        () ->
            assertThrows(
                IllegalArgumentException.class,
                () -> BatchService.builder().webhook(URI.create("ftp://example.com/x"))),
        () ->
            assertThrows(
                IllegalArgumentException.class,
                () -> BatchService.builder().webhook(URI.create("/relative"))),
        () ->
            assertThrows(
                IllegalArgumentException.class,
                () -> BatchService.builder().webhook(url, BatchEvent.Type.CREATED)),
        () -> assertThrows(NullPointerException.class, () -> BatchService.builder().webhook(null)),
        () ->
            assertThrows(
                IllegalArgumentException.class,
                () -> BatchService.builder().webhook(url).discoverProcessors(false).build()),
        () -> assertThrows(IllegalArgumentException.class, () -> new Webhook(url, Set.of())),
        () ->
            assertThrows(
                IllegalArgumentException.class,
                () ->
                    BatchService.builder()
                        .webhook(URI.create("http://" + "h".repeat(2_000) + ".example/"))));
  }

  @Test
  void batchWithWebhooks_isRefused_byAServiceWithoutASecret_andNothingIsStored() {
    BatchService service = service(BatchService.builder());

    BatchValidationException e =
        assertThrows(
            BatchValidationException.class,
            () ->
                service.submit(
                    BatchRequest.builder("echo")
                        .items(TestServices.items(1))
                        .webhook(receiver.url())
                        .build()));

    assertEquals("webhooks", e.violations().get(0).field());
    assertEquals(0, service.listBatches(BatchQuery.all()).items().size());
  }

  @Test
  void requestAndService_together_mayHaveAtMostTenWebhooks() {
    BatchService.Builder builder = BatchService.builder().webhookSecret(SECRET);
    for (int i = 0; i < 6; i++) {
      builder.webhook(URI.create(receiver.url() + "?s" + i));
    }
    BatchService service = service(builder);
    BatchRequest.Builder request = BatchRequest.builder("echo").items(TestServices.items(1));
    for (int i = 0; i < 5; i++) {
      request.webhook(URI.create(receiver.url() + "?r" + i));
    }

    BatchValidationException e =
        assertThrows(BatchValidationException.class, () -> service.submit(request.build()));

    assertTrue(e.getMessage().contains("at most 10 webhooks"), e.getMessage());
  }
}
