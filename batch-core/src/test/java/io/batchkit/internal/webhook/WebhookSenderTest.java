package io.batchkit.internal.webhook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.JobStore;
import io.batchkit.testkit.WebhookReceiver;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The sender's schedule of tries: doubling waits, capped, and an end after the last try. */
class WebhookSenderTest {
  private static final String SECRET = "sender-test-secret-16";

  @Test
  void waitsBetweenTries_addUpToAboutADay() {
    try (WebhookSender sender =
        new WebhookSender(JobStore.inMemory(), Clock.systemUTC(), SECRET, "n")) {
      Duration total = Duration.ZERO;
      for (int attempt = 1; attempt < WebhookSender.MAX_ATTEMPTS; attempt++) {
        total = total.plus(sender.retryDelay(attempt));
      }
      assertTrue(
          total.compareTo(Duration.ofHours(22)) > 0 && total.compareTo(Duration.ofHours(26)) < 0,
          total.toString());
    }
  }

  @Test
  void unstartedSender_closesWithoutAThread() {
    WebhookSender sender = new WebhookSender(JobStore.inMemory(), Clock.systemUTC(), SECRET, "x");
    sender.close();
    assertTrue(
        Thread.getAllStackTraces().keySet().stream()
            .noneMatch(t -> t.getName().startsWith("batchkit-webhooks-x")));
  }

  @Test
  void retryDelay_doublesFromFiveSeconds_toAtMostAnHour() {
    try (WebhookSender sender =
        new WebhookSender(JobStore.inMemory(), Clock.systemUTC(), SECRET, "n")) {
      assertEquals(Duration.ofSeconds(5), sender.retryDelay(1));
      assertEquals(Duration.ofSeconds(10), sender.retryDelay(2));
      assertEquals(Duration.ofSeconds(2_560), sender.retryDelay(10));
      assertEquals(Duration.ofHours(1), sender.retryDelay(11));
      assertEquals(Duration.ofHours(1), sender.retryDelay(WebhookSender.MAX_ATTEMPTS));
    }
  }

  @Test
  void deliveryThatAlwaysFails_isTriedMaxAttemptsTimes_thenGivenUp() {
    JobStore store = JobStore.inMemory();
    try (WebhookReceiver receiver = WebhookReceiver.start()) {
      int[] errors = new int[WebhookSender.MAX_ATTEMPTS];
      Arrays.fill(errors, 503);
      receiver.answer(errors);
      receiver.cancelledBatch(store);
      try (WebhookSender sender =
          new WebhookSender(
              store,
              Clock.systemUTC(),
              SECRET,
              "n",
              Duration.ofMillis(5),
              Duration.ofMillis(20),
              Duration.ofMillis(10))) {
        sender.start();
        receiver.await(WebhookSender.MAX_ATTEMPTS, Duration.ofSeconds(60));
      } // its last round finds nothing due: the delivery was given up

      assertEquals(WebhookSender.MAX_ATTEMPTS, receiver.received().size());
      assertEquals(
          1, new HashSet<>(receiver.received().stream().map(r -> r.deliveryId()).toList()).size());
      assertEquals(
          List.of(),
          store.claimWebhookDeliveries(
              Instant.now().plusSeconds(86_400 * 30), Instant.now().plusSeconds(86_400 * 31), 10));
      assertTrue(receiver.received().stream().allMatch(r -> WebhookReceiver.verifies(SECRET, r)));
    }
  }
}
