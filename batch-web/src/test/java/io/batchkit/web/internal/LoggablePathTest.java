package io.batchkit.web.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** A lease token is a worker's key to its job: it never reaches the server's log. */
class LoggablePathTest {
  @Test
  void aLeaseToken_isReplaced_everythingElseIsKept() {
    assertEquals(
        "/api/leases/{token}/complete", Router.loggable("/api/leases/c2VjcmV0LXRva2Vu/complete"));
    assertEquals("/ops/api/leases/{token}", Router.loggable("/ops/api/leases/c2VjcmV0"));
    assertEquals("/api/batches/42/jobs", Router.loggable("/api/batches/42/jobs"));
  }
}
