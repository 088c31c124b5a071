package io.batchkit.internal.webhook;

import io.batchkit.Batch;
import io.batchkit.BatchListener;
import io.batchkit.internal.util.DaemonThreadFactory;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.WebhookDelivery;
import java.io.IOException;
import java.io.InputStream;
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
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sends the webhook notifications the store holds ({@link JobStore#claimWebhookDeliveries}): one
 * thread per service claims up to {@value #PER_CLAIM} due deliveries under a lease, posts them at
 * once with the JDK's {@link HttpClient}, signed ({@link WebhookSignature}), and records each
 * result. A 2xx status delivers (the answer's body is not read); anything else, or no status within
 * {@link #TIMEOUT}, is tried again after 5 s, 10 s, 20 s and so on, at most an hour apart, {@value
 * #MAX_ATTEMPTS} tries in all (about a day). A service that dies mid-try leaves its claim to run
 * out: another service then sends the delivery again, so a receiver may see one twice and drops the
 * repeat by its {@code Batchkit-Delivery} id.
 *
 * <p>It runs when woken (a batch of this service started or finished, or was cancelled here) and
 * otherwise every {@link #IDLE_POLL}, which also picks up retries and the deliveries of services
 * that died. Every service that has a webhook secret runs one; they share the work through the
 * store's leases.
 *
 * <p>Ownership: the sender thread ({@link #run}) owns the claimed deliveries and records every
 * result; the HTTP threads only carry answers back to it. {@link #wake} and {@link #close} may be
 * called from any thread. Nothing runs before {@link #start}.
 */
public final class WebhookSender implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(WebhookSender.class);

  /** The most deliveries one claim takes. */
  static final int PER_CLAIM = 10;

  /** How long one try may take until its status arrives, connecting included. */
  static final Duration TIMEOUT = Duration.ofSeconds(10);

  /** How long a claim is leased: longer than a round of tries and its recording. */
  static final Duration LEASE = Duration.ofSeconds(60);

  /** The most tries of one delivery: with the waits between them, about a day. */
  static final int MAX_ATTEMPTS = 33;

  /** How often the store is asked when nothing woke the sender. */
  static final Duration IDLE_POLL = Duration.ofSeconds(2);

  /**
   * How long the loop waits after it failed unexpectedly, so that a lasting fault does not spin.
   */
  private static final Duration FAULT_PAUSE = Duration.ofSeconds(5);

  private static final Duration FIRST_RETRY = Duration.ofSeconds(5);
  private static final Duration MAX_RETRY = Duration.ofHours(1);

  private final JobStore store;
  private final Clock clock;
  private final WebhookSignature signature;
  private final Duration firstRetry;
  private final Duration maxRetry;
  private final Duration idlePoll;
  private final Semaphore wakeUps = new Semaphore(0);
  private final String nodeId;
  private final Thread thread;

  /** Made by {@link #start}: volatile for {@link #close}, on any thread. */
  private volatile ExecutorService http;

  /** Made by {@link #start}, before the sender thread starts; read by that thread only. */
  private HttpClient client;

  private volatile boolean closing;

  /** True while the store fails; only the sender thread touches it. */
  private boolean failing;

  /** A sender for the service of {@code nodeId}; it sends once {@link #start}ed. */
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
    this.nodeId = nodeId;
    this.thread = new DaemonThreadFactory("batchkit-webhooks-" + nodeId).newThread(this::run);
  }

  /** Starts sending: called once the service that owns the sender is fully built. */
  public void start() {
    http =
        Executors.newCachedThreadPool(new DaemonThreadFactory("batchkit-webhooks-http-" + nodeId));
    client =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1) // no h2c upgrade, which some servers refuse
            .connectTimeout(TIMEOUT)
            .followRedirects(HttpClient.Redirect.NEVER)
            .executor(http)
            .build();
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
   * tried once and recorded, so that a service closed just after its batch finished still sends the
   * notification; what is left stays in the store for the other services, or for this one's next
   * start. Returns within about two rounds ({@link #TIMEOUT} each, plus the store's calls).
   */
  @Override
  public void close() {
    closing = true;
    wake();
    if (!DaemonThreadFactory.awaitEnd(thread, LEASE)) {
      LOG.warn("the webhook sender did not stop within {}; leaving it to end", LEASE);
      return; // it records its last results itself; its HTTP threads end with it
    }
    ExecutorService pool = http;
    if (pool != null) {
      pool.shutdownNow();
    }
  }

  private void run() {
    while (true) {
      boolean stopping = closing; // read before the claim: a close after it gets one more round
      boolean idle = true;
      try {
        List<WebhookDelivery> claimed = claim();
        idle = claimed.isEmpty();
        if (!idle) {
          send(claimed);
        }
      } catch (RuntimeException | Error e) {
        // a fault of this loop must not end sending for good: log it and go on after a pause
        LOG.error("webhook sender failed; going on in {}", FAULT_PAUSE, e);
        if (!stopping && !pause(FAULT_PAUSE)) {
          return;
        }
      }
      if (stopping) {
        return;
      }
      if (idle && !pause(idlePoll)) {
        return;
      }
    }
  }

  /** Waits up to {@code time} or until woken; false if interrupted. */
  private boolean pause(Duration time) {
    try {
      wakeUps.tryAcquire(time.toMillis(), TimeUnit.MILLISECONDS);
      wakeUps.drainPermits();
      return true;
    } catch (InterruptedException e) {
      return false;
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

  /**
   * Posts every delivery at once, waits until each has its status or its time is up, then records
   * each result here, on the sender thread.
   */
  private void send(List<WebhookDelivery> deliveries) {
    List<CompletableFuture<Integer>> tries = new ArrayList<>(deliveries.size());
    for (WebhookDelivery delivery : deliveries) {
      tries.add(post(delivery));
    }
    try {
      CompletableFuture.allOf(tries.toArray(CompletableFuture[]::new))
          .get(TIMEOUT.plusSeconds(2).toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      // each try's own outcome is read below
    }
    for (int i = 0; i < deliveries.size(); i++) {
      CompletableFuture<Integer> attempt = tries.get(i);
      String error;
      if (!attempt.isDone()) {
        attempt.cancel(true);
        error = "no answer within " + TIMEOUT.toSeconds() + " s";
      } else if (attempt.isCompletedExceptionally()) {
        error = describe(attempt);
      } else {
        int status = attempt.join();
        error = status / 100 == 2 ? null : "HTTP " + status;
      }
      if (error == null) {
        delivered(deliveries.get(i));
      } else {
        failed(deliveries.get(i), error);
      }
    }
  }

  /**
   * Starts one try; its future ends with the status as soon as the status line and headers have
   * come (the body, never read, is closed at once, so a receiver that answers and then stalls holds
   * nothing), or exceptionally after {@link #TIMEOUT}.
   */
  private CompletableFuture<Integer> post(WebhookDelivery delivery) {
    try {
      long unixSeconds = clock.instant().getEpochSecond();
      HttpRequest request =
          HttpRequest.newBuilder(delivery.url())
              .timeout(TIMEOUT)
              .header("Content-Type", "application/json")
              .header("User-Agent", "batchkit-webhooks")
              .header("Batchkit-Event", delivery.event().name())
              .header("Batchkit-Delivery", Long.toString(delivery.id()))
              .header(
                  WebhookSignature.HEADER,
                  signature.header(unixSeconds, delivery.id(), delivery.body()))
              .POST(HttpRequest.BodyPublishers.ofString(delivery.body(), StandardCharsets.UTF_8))
              .build();
      return client
          .sendAsync(request, HttpResponse.BodyHandlers.ofInputStream())
          .thenApply(
              response -> {
                closeQuietly(response.body()); // unread: the status is all a try needs
                return response.statusCode();
              })
          .orTimeout(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (RuntimeException e) {
      // a request that cannot be built or started (a bad stored address, a stopped executor)
      return CompletableFuture.failedFuture(e);
    }
  }

  private static void closeQuietly(InputStream body) {
    try {
      body.close();
    } catch (IOException e) {
      // the status stands; the connection is dropped
    }
  }

  private void delivered(WebhookDelivery delivery) {
    try {
      store.webhookDelivered(delivery);
      LOG.debug("delivered {}", delivery);
    } catch (RuntimeException e) {
      LOG.warn(
          "could not record delivery of {} ({}); it will be sent again", delivery, e.toString());
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

  /** A failed try's exception as a short error, without the request (its body holds metadata). */
  private static String describe(CompletableFuture<Integer> attempt) {
    Throwable cause;
    try {
      attempt.join();
      return "unknown";
    } catch (CompletionException e) {
      cause = e.getCause() != null ? e.getCause() : e;
    } catch (CancellationException e) {
      cause = e;
    }
    if (cause instanceof TimeoutException) {
      return "no answer within " + TIMEOUT.toSeconds() + " s";
    }
    String message = cause.getMessage();
    return cause.getClass().getSimpleName() + (message == null ? "" : ": " + message);
  }

  /**
   * The listeners, and one that wakes the webhook sender when a batch starts or finishes here: its
   * notification was just written, and this service is the first to know.
   */
  public static List<BatchListener> withWakeUps(
      List<BatchListener> listeners, WebhookSender sender) {
    if (sender == null) {
      return listeners;
    }
    List<BatchListener> all = new ArrayList<>(listeners.size() + 1);
    all.add( // first: a user's listener that blocks does not hold the notification back
        new BatchListener() {
          @Override
          public void batchStarted(Batch batch) {
            sender.wake();
          }

          @Override
          public void batchFinished(Batch batch) {
            sender.wake();
          }

          @Override
          public String toString() {
            return "webhook sender";
          }
        });
    all.addAll(listeners);
    return all;
  }
}
