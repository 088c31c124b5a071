package io.batchkit.internal.webhook;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.HexFormat;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * How a notification is signed, in the way Stripe signs its webhooks: the header {@value #HEADER}
 * is {@code t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<delivery id>.<body>" under the secret>}.
 * The time is inside what is signed, so a receiver that rejects times more than a few minutes old
 * is safe from a replayed request; so is the delivery id (the {@code Batchkit-Delivery} header), so
 * a replay cannot pass a receiver's de-duplication under another id. The README shows a receiver's
 * check. Immutable and thread-safe: each call makes its own {@link Mac}.
 */
public final class WebhookSignature {
  /** The header that carries the signature. */
  public static final String HEADER = "Batchkit-Signature";

  private static final String ALGORITHM = "HmacSHA256";

  private final SecretKeySpec key;

  /** A signer with {@code secret}, taken as its UTF-8 bytes. */
  public WebhookSignature(String secret) {
    this.key = new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), ALGORITHM);
  }

  /** Returns the header's value for delivery {@code id} of {@code body}, posted at a time. */
  public String header(long unixSeconds, long id, String body) {
    return "t=" + unixSeconds + ",v1=" + hex(unixSeconds, id, body);
  }

  /** The hex HMAC-SHA256 of {@code "<unixSeconds>.<id>.<body>"}. */
  String hex(long unixSeconds, long id, String body) {
    try {
      Mac mac = Mac.getInstance(ALGORITHM);
      mac.init(key);
      mac.update((unixSeconds + "." + id + ".").getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(mac.doFinal(body.getBytes(StandardCharsets.UTF_8)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("every Java platform has " + ALGORITHM, e);
    }
  }
}
