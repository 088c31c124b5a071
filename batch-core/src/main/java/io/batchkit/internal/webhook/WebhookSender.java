package io.batchkit.internal.webhook;

import io.batchkit.spi.JobStore;
import io.batchkit.spi.WebhookDelivery;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the webhook notifications the store holds ({@link JobStore#claimWebhookDeliveries}): one
 * thread per service claims up to {@value #PER_CLAIM} due deliveries under a lease, posts them at
 * once with the JDK's {@link HttpClient}, signed ({@link WebhookSignature}), and records each
 * result. A 2xx answer delivers; anything else, or no answer within {@link #TIMEOUT}, is tried
 * again after 5 s, 10 s, 20 s and so on, at most an hour apart, {@value #MAX_ATTEMPTS} tries in all
 * (about a day). A service that dies mid-try leaves its claim to run out: another service then
 * sends the delivery again, so a receiver may see one twice and drops the repeat by its {@code
 * Batchkit-Delivery} id.
 *
 * <p>It runs when woken (a batch of this service started or finished, or was cancelled here) and
 * otherwise every {@link #IDLE_POLL}, which also picks up retries and the deliveries of services
 * that died. Every service that has a webhook secret runs one; they share the work through the
 * store's leases.
 *
 * <p>Ownership: {@link #run} on the sender thread owns the claimed deliveries; {@link #wake} and
 * {@link #close} may be called from any thread.
 */
public final class WebhookSender implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WebhookSender.class);

  /** The most deliveries one claim takes. */
  static final int PER_CLAIM = 10;

  /** How long one try may take, connecting included. */
  static final Duration TIMEOUT = Duration.ofSeconds(10);

  /** How long a claim is leased: longer than every try of it together. */
  static final Duration LEASE = Duration.ofSeconds(60);

  /** The most tries of one delivery. */
  static final int MAX_ATTEMPTS = 20;

  /** How often the store is asked when nothing woke the sender. */
  static final Duration IDLE_POLL = Duration.ofSeconds(2);

  private static final Duration FIRST_RETRY = Duration.ofSeconds(5);
  private static final Duration MAX_RETRY = Duration.ofHours(1);

  private final JobStore store;
  private final Clock clock;
  private final WebhookSignature signature;
  private final Duration firstRetry;
  private final Duration maxRetry;
  private final Duration idlePoll;
  private final Semaphore wakeUps = new Semaphore(0);
  private final ExecutorService http;
  private final HttpClient client;
  private final Thread thread;
  private volatile boolean closing;

  /** True while the store fails; only the sender thread touches it. */
  private boolean failing;

  /** A sender for the service of {@code nodeId}, started at once. */
  public WebhookSender(JobStore store, Clock clock, String secret, String nodeId) {
    this(store, clock, secret, nodeId, FIRST_RETRY, MAX_RETRY, IDLE_POLL);
  }

  /** A sender with its own timing, for tests. */
  WebhookSender(
      JobStore store,
      Clock clock,
      String secret,
      String nodeId,
      Duration firstRetry,
      Duration maxRetry,
      Duration idlePoll) {
    this.store = store;
    this.clock = clock;
    this.signature = new WebhookSignature(secret);
    this.firstRetry = firstRetry;
    this.maxRetry = maxRetry;
    this.idlePoll = idlePoll;
    AtomicInteger count = new AtomicInteger();
    this.http =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "batchkit-webhooks-http-" + count.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.client =
        HttpClient.newBuilder()
            .connectTimeout(TIMEOUT)
            .followRedirects(HttpClient.Redirect.NEVER)
            .executor(http)
            .build();
    this.thread = new Thread(this::run, "batchkit-webhooks-" + nodeId);
    thread.setDaemon(true);
    thread.start();
  }

  /** Makes the sender ask the store at once: an event of a batch was just recorded here. */
  public void wake() {
    if (wakeUps.availablePermits() == 0) {
      wakeUps.release();
    }
  }

  /**
   * Stops the sender after one last round: the deliveries due now (up to {@value #PER_CLAIM}) are
   * tried once, each for at most {@link #TIMEOUT}, so that a service closed just after its batch
   * finished still sends the notification; what is left stays in the store for the other services,
   * or for this one's next start.
   */
  @Override
  public void close() {
    closing = true;
    wake();
    try {
      thread.join(TIMEOUT.plusSeconds(5).toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    http.shutdownNow();
  }

  private void run() {
    while (true) {
      boolean stopping = closing; // read before the claim: a close after it gets one more round
      List<WebhookDelivery> claimed = claim();
      if (!claimed.isEmpty()) {
        send(claimed);
      }
      if (stopping) {
        return;
      }
      if (claimed.isEmpty()) {
        try {
          wakeUps.tryAcquire(idlePoll.toMillis(), TimeUnit.MILLISECONDS);
          wakeUps.drainPermits();
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  private List<WebhookDelivery> claim() {
    Instant now = clock.instant();
    try {
      List<WebhookDelivery> claimed = store.claimWebhookDeliveries(now, now.plus(LEASE), PER_CLAIM);
      failing = false;
      return claimed;
    } catch (RuntimeException e) {
      if (!failing) {
        failing = true;
        LOG.warn("could not claim webhook deliveries ({}); trying again later", e.toString());
      }
      return List.of();
    }
  }

  /** Posts every delivery at once, then records each result as it is known. */
  private void send(List<WebhookDelivery> deliveries) {
    List<CompletableFuture<Void>> tries = new ArrayList<>(deliveries.size());
    for (WebhookDelivery delivery : deliveries) {
      long unixSeconds = clock.instant().getEpochSecond();
      HttpRequest request =
          HttpRequest.newBuilder(delivery.url())
              .timeout(TIMEOUT)
              .header("Content-Type", "application/json")
              .header("User-Agent", "batchkit-webhooks")
              .header("Batchkit-Event", delivery.event().name())
              .header("Batchkit-Delivery", Long.toString(delivery.id()))
              .header(WebhookSignature.HEADER, signature.header(unixSeconds, delivery.body()))
              .POST(HttpRequest.BodyPublishers.ofString(delivery.body(), StandardCharsets.UTF_8))
              .build();
      tries.add(
          client
              .sendAsync(request, HttpResponse.BodyHandlers.discarding())
              .handle(
                  (response, error) -> {
                    if (error == null && response.statusCode() / 100 == 2) {
                      delivered(delivery);
                    } else {
                      failed(
                          delivery,
                          error == null ? "HTTP " + response.statusCode() : describe(error));
                    }
                    return null;
                  }));
    }
    try {
      CompletableFuture.allOf(tries.toArray(CompletableFuture[]::new))
          .get(TIMEOUT.plusSeconds(5).toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (Exception e) {
      // a try that has not ended is left to its lease; the results known are recorded
      LOG.debug("webhook tries did not all end in time: {}", e.toString());
    }
  }

  private void delivered(WebhookDelivery delivery) {
    try {
      store.webhookDelivered(delivery);
      LOG.debug("delivered {}", delivery);
    } catch (RuntimeException e) {
      LOG.warn("could not record delivery of {} ({}); it will be sent again", delivery, e);
    }
  }

  private void failed(WebhookDelivery delivery, String error) {
    Optional<Instant> retryAt =
        delivery.attempt() >= MAX_ATTEMPTS
            ? Optional.empty()
            : Optional.of(clock.instant().plus(retryDelay(delivery.attempt())));
    if (retryAt.isPresent()) {
      LOG.info("{} failed ({}); trying again at {}", delivery, error, retryAt.get());
    } else {
      LOG.warn("{} failed ({}); giving up after {} tries", delivery, error, delivery.attempt());
    }
    try {
      store.webhookFailed(delivery, error, retryAt);
    } catch (RuntimeException e) {
      LOG.warn("could not record the failed try of {} ({})", delivery, e.toString());
    }
  }

  /** The wait after try {@code attempt} failed: doubling from the first, at most the longest. */
  Duration retryDelay(int attempt) {
    int doublings = Math.min(attempt - 1, 30);
    Duration delay = firstRetry.multipliedBy(1L << doublings);
    return delay.compareTo(maxRetry) > 0 ? maxRetry : delay;
  }

  /** An exception as a short error, without the request (its body may hold metadata). */
  private static String describe(Throwable error) {
    Throwable cause =
        error instanceof java.util.concurrent.CompletionException && error.getCause() != null
            ? error.getCause()
            : error;
    String message = cause.getMessage();
    return cause.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }
}
