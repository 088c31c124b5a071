package io.batchkit.internal.scheduler;

import io.batchkit.BatchRequest;
import io.batchkit.Webhook;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;

/**
 * The fingerprint of a {@link BatchRequest}: a SHA-256 over its job type, name, items, metadata and
 * settings (its scheduled start among them), stored with a batch that has an idempotency key, so
 * that a later request with the same key but other content is told apart without comparing every
 * item. Settings left out count as left out (not as the service's defaults), so two services with
 * different defaults agree on it; {@code autoStart} is not part of it, since it says how to create
 * the batch, not what it is.
 *
 * <p>Each field is written with its length before it, so that no two different requests can encode
 * the same bytes. Stateless.
 */
final class RequestFingerprint {
  /** The encoding's version, in front of the digest; 62 hexadecimal digits of it follow. */
  static final String VERSION = "1:";

  private RequestFingerprint() {}

  /** Returns the fingerprint: {@link #VERSION} and 62 hexadecimal digits, 64 characters. */
  static String of(BatchRequest request) {
    MessageDigest digest;
    try {
      digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
    text(digest, request.jobType());
    text(digest, request.name());
    number(digest, request.items().size());
    for (String item : request.items()) {
      text(digest, item);
    }
    Map<String, String> metadata = new TreeMap<>(request.metadata());
    number(digest, metadata.size());
    metadata.forEach(
        (key, value) -> {
          text(digest, key);
          text(digest, value);
        });
    text(digest, request.priority().name());
    number(digest, request.maxConcurrency().isPresent() ? request.maxConcurrency().getAsInt() : -1);
    number(digest, request.maxAttempts().isPresent() ? request.maxAttempts().getAsInt() : -1);
    number(digest, request.jobTimeout().map(t -> t.toNanos()).orElse(-1L));
    number(digest, request.failurePolicy().maxFailures());
    number(digest, Double.doubleToLongBits(request.failurePolicy().maxFailureRatio()));
    number(digest, request.startAt().map(t -> t.toEpochMilli()).orElse(Long.MIN_VALUE));
    // only when there are some: a request without webhooks keeps the fingerprint it had before
    // webhooks existed, so that a stored key still matches its repeat
    for (Webhook webhook : request.webhooks()) {
      text(digest, webhook.url().toString());
      text(digest, webhook.events().toString());
    }
    // a version in front, so that a later encoding can tell the fingerprints of this one apart
    return VERSION + HexFormat.of().formatHex(digest.digest()).substring(0, 64 - VERSION.length());
  }

  private static void text(MessageDigest digest, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    number(digest, bytes.length);
    digest.update(bytes);
  }

  private static void number(MessageDigest digest, long n) {
    for (int shift = 56; shift >= 0; shift -= 8) {
      digest.update((byte) (n >>> shift));
    }
  }
}
