package io.batchkit.internal.scheduler;

import io.batchkit.BatchId;
import io.batchkit.JobId;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HexFormat;
import java.util.UUID;

/**
 * A lease held by a worker outside the service ({@link PullWorkers}), and its text form, the token
 * the worker is given: every fact a later report needs (the job, its batch, the claim's fencing
 * token and attempt, the lease's owner), so that any node can take the report without a lookup. The
 * text is URL-safe Base64 of those fields; it is not a secret (anyone who can read jobs sees the
 * owner), and a forged one can do no more than a real one: the store checks the fencing token.
 *
 * @param owner the owner the job was claimed for: {@code pull:} and 16 hex digits of {@code
 *     ownerBits}, one per lease, so that the lease holds a slot row of its own and no node's death
 *     or liveness touches it
 */
record LeaseToken(JobId jobId, BatchId batchId, long fencingToken, int attempt, long ownerBits) {
  private static final int BYTES = 16 + 16 + 8 + 4 + 8;
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final Base64.Encoder ENCODER = Base64.getUrlEncoder().withoutPadding();
  private static final Base64.Decoder DECODER = Base64.getUrlDecoder();

  /** The owner prefix that marks a job leased to a worker outside the service. */
  static final String OWNER_PREFIX = "pull:";

  /** Returns fresh random owner bits for a lease about to be claimed. */
  static long newOwnerBits() {
    return RANDOM.nextLong();
  }

  /** Returns the owner stored with a job leased under {@code ownerBits}. */
  static String owner(long ownerBits) {
    return OWNER_PREFIX + HexFormat.of().toHexDigits(ownerBits);
  }

  String owner() {
    return owner(ownerBits);
  }

  /** Returns the token's text. */
  String text() {
    ByteBuffer b = ByteBuffer.allocate(BYTES);
    put(b, jobId.value());
    put(b, batchId.value());
    b.putLong(fencingToken).putInt(attempt).putLong(ownerBits);
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
      throw new IllegalArgumentException("token is not a lease token from BatchService.poll");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    JobId job = new JobId(new UUID(b.getLong(), b.getLong()));
    BatchId batch = new BatchId(new UUID(b.getLong(), b.getLong()));
    long fencing = b.getLong();
    int attempt = b.getInt();
    long owner = b.getLong();
    if (attempt < 1) {
      throw new IllegalArgumentException("token is not a lease token from BatchService.poll");
    }
    return new LeaseToken(job, batch, fencing, attempt, owner);
  }

  private static void put(ByteBuffer b, UUID id) {
    b.putLong(id.getMostSignificantBits()).putLong(id.getLeastSignificantBits());
  }

  /** Shows the job and the fencing token, as log lines about leases do. */
  @Override
  public String toString() {
    return "lease of job " + jobId + " (token " + fencingToken + ")";
  }
}
