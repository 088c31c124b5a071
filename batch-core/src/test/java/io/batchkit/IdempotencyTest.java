package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Idempotency keys that notice a different request: the same request under a key returns the stored
 * batch; a different one is refused with {@link IdempotencyConflictException}.
 */
class IdempotencyTest {
  private final TestServices services = new TestServices();

  @AfterEach
  void close() {
    services.closeAll();
  }

  @Test
  void theSameRequestAgain_returnsTheStoredBatch_whetherCreatedOrSubmitted() {
    BatchService service = start();
    Batch first = service.createBatch(request("none"));

    assertEquals(first.id(), service.createBatch(request("none")).id());
    assertEquals(first.id(), service.submit(request("none")).id(), "autoStart is not part of it");
    assertEquals(1, service.listBatches(BatchQuery.all()).items().size());
    assertEquals(Optional.of(first.id()), service.findBatchByIdempotencyKey("k").map(Batch::id));
    assertEquals(Optional.empty(), service.findBatchByIdempotencyKey("other"));
    assertThrows(NullPointerException.class, () -> service.findBatchByIdempotencyKey(null));
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(
      strings = {
        "job type",
        "items",
        "item order",
        "name",
        "metadata",
        "priority",
        "concurrency",
        "attempts",
        "timeout",
        "failure policy"
      })
  void aDifferentRequestUnderTheKey_isRefused_andChangesNothing(String difference) {
    BatchService service = start();
    Batch first = service.createBatch(request("none"));

    IdempotencyConflictException e =
        assertThrows(
            IdempotencyConflictException.class, () -> service.createBatch(request(difference)));

    assertEquals("k", e.idempotencyKey());
    assertEquals(first.id(), e.existingBatchId());
    assertTrue(e.getMessage().contains("'k'"), e.getMessage());
    assertTrue(!e.getMessage().contains("payload"), "no payload in the message: " + e.getMessage());
    assertEquals(
        List.of(first.id()),
        service.listBatches(BatchQuery.all()).items().stream().map(Batch::id).toList());
  }

  /** The base request (key "k") with one difference, or none for {@code "none"}. */
  private static BatchRequest request(String difference) {
    List<String> items = List.of("payload 1", "payload 2");
    BatchRequest.Builder b =
        BatchRequest.builder(difference.equals("job type") ? "u" : "t")
            .name("import")
            .items(difference.equals("item order") ? List.of("payload 2", "payload 1") : items)
            .metadata("tenant", "acme")
            .idempotencyKey("k");
    switch (difference) {
      case "none", "job type", "item order" -> {}
      case "items" -> b.item("payload 3");
      case "name" -> b.name("another name");
      case "metadata" -> b.metadata("extra", "1");
      case "priority" -> b.priority(Priority.HIGH);
      case "concurrency" -> b.maxConcurrency(7);
      case "attempts" -> b.maxAttempts(9);
      case "timeout" -> b.jobTimeout(Duration.ofMinutes(3));
      case "failure policy" -> b.failurePolicy(FailurePolicy.maxFailures(2));
      default -> throw new IllegalArgumentException(difference);
    }
    return b.build();
  }

  private BatchService start() {
    return services.start(
        BatchService.builder().processor("t", ctx -> "ok").processor("u", ctx -> "ok"));
  }
}
