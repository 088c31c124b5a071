package io.batchkit.internal.scheduler;

import io.batchkit.BatchId;
import io.batchkit.JobId;
import io.batchkit.internal.util.AttemptRecords;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.UUID;

/**
 * A lease held by a worker outside the service ({@link PullWorkers}), and its text form, the token
 * the worker is given: every fact a later report needs (the job, its batch, the claim's fencing
 * token and attempt) and the lease's secret, so that any node can take the report without a lookup.
 * The text is URL-safe Base64 of those fields.
 *
 * <p>The job was claimed for the owner {@code pull:} and the first 16 bytes of the secret's SHA-256
 * in hex ({@link #owner()}), one per lease: the lease holds a slot row of its own, and no node's
 * death or liveness touches it. Every report first checks that the job is still claimed by that
 * owner with that fencing token, so a token can be used only by whoever was given it: the owner a
 * job shows ({@link io.batchkit.Job#nodeId()}) does not reveal the secret, and no token made up
 * from a job's visible fields can end a job that a node's processor runs (its owner is the node).
 *
 * @param secret the 16 random bytes whose hash names the owner
 */
record LeaseToken(JobId jobId, BatchId batchId, long fencingToken, int attempt, Secret secret) {
  /** A lease's secret: 16 random bytes, as two longs so that the token stays a plain value. */
  record Secret(long high, long low) {
    /** Returns the owner a job leased under this secret is claimed for. */
    String owner() {
      try {
        byte[] hash =
            MessageDigest.getInstance("SHA-256")
                .digest(ByteBuffer.allocate(16).putLong(high).putLong(low).array());
        return AttemptRecords.WORKER_PREFIX + HexFormat.of().formatHex(hash, 0, 16);
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("every Java runtime has SHA-256", e);
      }
    }

    /** Shows nothing of the secret. */
    @Override
    public String toString() {
      return "Secret[hidden]";
    }
  }

  private static final int BYTES = 16 + 16 + 8 + 4 + 16;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder DECODER = Base64.getUrlDecoder();
  private static final String NOT_A_TOKEN = "token is not a lease token from BatchService.poll";

  /** Returns a fresh secret for a lease about to be claimed. */
  static Secret newSecret() {
    return new Secret(RANDOM.nextLong(), RANDOM.nextLong());
  }

  /** Returns the owner the job was claimed for. */
  String owner() {
    return secret.owner();
  }

  /** Returns the token's text. */
  String text() {
    ByteBuffer b = ByteBuffer.allocate(BYTES);
    put(b, jobId.value());
    put(b, batchId.value());
    b.putLong(fencingToken).putInt(attempt).putLong(secret.high()).putLong(secret.low());
    return ENCODER.encodeToString(b.array());
  }

  /**
   * Reads a token's text.
   *
   * @throws NullPointerException if {@code text} is null
   * @throws IllegalArgumentException if it is not the text of a token (the message does not repeat
   *     it)
   */
  static LeaseToken parse(String text) {
    if (text == null) {
      throw new NullPointerException("token must not be null");
    }
    byte[] bytes;
    try {
      bytes = text.length() > BYTES * 2 ? null : DECODER.decode(text.strip());
    } catch (IllegalArgumentException e) {
      bytes = null;
    }
    if (bytes == null || bytes.length != BYTES) {
      throw new IllegalArgumentException(NOT_A_TOKEN);
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    JobId job = new JobId(new UUID(b.getLong(), b.getLong()));
    BatchId batch = new BatchId(new UUID(b.getLong(), b.getLong()));
    long fencing = b.getLong();
    int attempt = b.getInt();
    Secret secret = new Secret(b.getLong(), b.getLong());
    if (attempt < 1) {
      throw new IllegalArgumentException(NOT_A_TOKEN);
    }
    return new LeaseToken(job, batch, fencing, attempt, secret);
  }

  private static void put(ByteBuffer b, UUID id) {
    b.putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits());
  }

  /** Shows the job and the fencing token, never the secret. */
  @Override
  public String toString() {
    return "lease of job " + jobId + " (token " + fencingToken + ")";
  }
}
