package io.batchkit.testkit;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.JobId;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.Webhook;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import io.batchkit.spi.StoredRequest;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * A real HTTP server (the JDK's {@link HttpServer}) on a free local port that records every webhook
 * notification posted to it and answers each with the next status queued by {@link #answer}, or
 * 200. Its {@link #verifies} checks a signature the way the README tells a receiver to, written
 * here independently of batchkit's signer.
 */
public final class WebhookReceiver implements AutoCloseable {
  /** One request, as it arrived. */
  public record Received(
      String query,
      String event,
      String deliveryId,
      String signature,
      String contentType,
      String body,
      Instant at) {}

  private final HttpServer server;
  private final ExecutorService executor = Executors.newFixedThreadPool(4);
  private final List<Received> received = new CopyOnWriteArrayList<>();
  private final Deque<Integer> answers = new ArrayDeque<>();
  private volatile Consumer<Received> onRequest = r -> {};

  private WebhookReceiver() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/hook", this::handle);
    server.setExecutor(executor);
    server.start();
  }

  /** Starts a receiver. */
  public static WebhookReceiver start() {
    try {
      return new WebhookReceiver();
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The address to give a webhook. */
  public URI url() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/hook");
  }

  /** Queues the statuses of the next answers, in order; after them every answer is 200. */
  public synchronized void answer(int... statuses) {
    for (int status : statuses) {
      answers.add(status);
    }
  }

  /** Runs {@code hook} for each request as it arrives, before it is answered. */
  public void onRequest(Consumer<Received> hook) {
    this.onRequest = hook;
  }

  /** Every request so far, in arrival order. */
  public List<Received> received() {
    return List.copyOf(received);
  }

  /** Waits until at least {@code count} requests arrived; returns them all. */
  public List<Received> await(int count, Duration timeout) {
    Await.until(
        count + " webhook requests arrived (" + received.size() + " so far)",
        timeout,
        () -> received.size() >= count);
    return received();
  }

  private void handle(HttpExchange exchange) throws IOException {
    try (exchange;
        InputStream in = exchange.getRequestBody()) {
      Received r =
          new Received(
              exchange.getRequestURI().getQuery(),
              exchange.getRequestHeaders().getFirst("Batchkit-Event"),
              exchange.getRequestHeaders().getFirst("Batchkit-Delivery"),
              exchange.getRequestHeaders().getFirst("Batchkit-Signature"),
              exchange.getRequestHeaders().getFirst("Content-Type"),
              new String(in.readAllBytes(), StandardCharsets.UTF_8),
              Instant.now());
      received.add(r);
      onRequest.accept(r);
      int status;
      synchronized (this) {
        status = answers.isEmpty() ? 200 : answers.poll();
      }
      exchange.sendResponseHeaders(status, -1);
    }
  }

  /**
   * Checks a request's signature as a receiver should: the header is {@code t=<unix
   * seconds>,v1=<hex>}; the hex must equal HMAC-SHA256 of {@code "<t>.<Batchkit-Delivery>.<body>"}
   * under the secret (compared in constant time), and {@code t} must be within five minutes of now.
   */
  public static boolean verifies(String secret, Received r) {
    if (r.signature() == null) {
      return false;
    }
    String t = null;
    String v1 = null;
    for (String part : r.signature().split(",")) {
      if (part.startsWith("t=")) {
        t = part.substring(2);
      } else if (part.startsWith("v1=")) {
        v1 = part.substring(3);
      }
    }
    if (t == null || v1 == null) {
      return false;
    }
    if (Math.abs(Instant.now().getEpochSecond() - Long.parseLong(t)) > 300) {
      return false;
    }
    try {
      Mac mac = Mac.getInstance("HmacSHA256");
      mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
      byte[] expected =
          mac.doFinal((t + "." + r.deliveryId() + "." + r.body()).getBytes(StandardCharsets.UTF_8));
      return MessageDigest.isEqual(expected, HexFormat.of().parseHex(v1));
    } catch (GeneralSecurityException | IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * Writes, straight to {@code store}, a one-job batch with a webhook to this receiver told of
   * cancellations, and cancels it: a delivery that no service wrote, so nothing woke a sender.
   */
  public void cancelledBatch(JobStore store) {
    Instant now = Instant.now();
    Batch batch =
        new Batch(
            BatchId.random(),
            "b",
            "echo",
            Priority.NORMAL,
            Map.of(),
            1,
            1,
            Duration.ofMinutes(1),
            FailurePolicy.never(),
            Optional.empty(),
            BatchStatus.PENDING,
            Progress.allQueued(1),
            now,
            Optional.empty(),
            now,
            Optional.empty(),
            Optional.empty());
    store.insertBatch(
        batch,
        List.of(new NewJob(JobId.random(), "p")),
        new StoredRequest(
            Optional.empty(),
            Optional.empty(),
            List.of(new Webhook(url(), Set.of(BatchEvent.Type.CANCELLED)))));
    store.cancelBatch(batch.id(), now);
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
