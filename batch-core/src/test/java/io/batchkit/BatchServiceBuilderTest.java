package io.batchkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.BatchValidationException.Violation;
import io.batchkit.spi.JobStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class BatchServiceBuilderTest {

  /** A builder for a service that runs job type {@code t}, without class path discovery. */
  private static BatchService.Builder builder() {
    return BatchService.builder().processor("t", ctx -> "ok").discoverProcessors(false);
  }

  private static BatchRequest request(String jobType, String... items) {
    return BatchRequest.builder(jobType).items(List.of(items)).build();
  }

  private static void assertNothingStored(BatchService service) {
    assertEquals(List.of(), service.listBatches(BatchQuery.all()).items());
  }

  // ---------------------------------------------------------------- int setters

  private static BatchService.Builder setInt(BatchService.Builder builder, String setter, int n) {
    return switch (setter) {
      case "maxConcurrency" -> builder.maxConcurrency(n);
      case "defaultBatchConcurrency" -> builder.defaultBatchConcurrency(n);
      case "defaultMaxAttempts" -> builder.defaultMaxAttempts(n);
      case "maxItemsPerBatch" -> builder.maxItemsPerBatch(n);
      case "maxPayloadBytes" -> builder.maxPayloadBytes(n);
      default -> throw new IllegalArgumentException("no setter " + setter);
    };
  }

  @ParameterizedTest(name = "[{index}] {0}({1})")
  @CsvSource({
    "maxConcurrency,          0,           10000",
    "maxConcurrency,          -1,          10000",
    "maxConcurrency,          10001,       10000",
    "defaultBatchConcurrency, 0,           10000",
    "defaultBatchConcurrency, 10001,       10000",
    "defaultMaxAttempts,      0,           100",
    "defaultMaxAttempts,      101,         100",
    "maxItemsPerBatch,        0,           10000000",
    "maxItemsPerBatch,        10000001,    10000000",
    "maxPayloadBytes,         0,           67108864",
    "maxPayloadBytes,         -1,          67108864",
    "maxPayloadBytes,         67108865,    67108864",
    "maxPayloadBytes,         2147483647,  67108864",
  })
  void intSetter_outOfBounds_namesTheFieldTheBoundsAndTheValue(String setter, int n, int max) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> setInt(builder(), setter, n));

    assertEquals(setter + " must be between 1 and " + max + ", was " + n, e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}({1})")
  @CsvSource({
    "maxConcurrency,          1",
    "maxConcurrency,          10000",
    "defaultBatchConcurrency, 1",
    "defaultBatchConcurrency, 10000",
    "defaultMaxAttempts,      1",
    "defaultMaxAttempts,      100",
    "maxItemsPerBatch,        1",
    "maxItemsPerBatch,        10000000",
    "maxPayloadBytes,         1",
    "maxPayloadBytes,         67108864",
  })
  void intSetter_atTheBounds_returnsTheBuilder(String setter, int n) {
    BatchService.Builder builder = builder();

    assertSame(builder, setInt(builder, setter, n));
  }

  // ---------------------------------------------------------------- duration setters

  private static BatchService.Builder setDuration(
      BatchService.Builder builder, String setter, Duration d) {
    return switch (setter) {
      case "defaultJobTimeout" -> builder.defaultJobTimeout(d);
      case "pollInterval" -> builder.pollInterval(d);
      case "priorityAging" -> builder.priorityAging(d);
      case "shutdownGracePeriod" -> builder.shutdownGracePeriod(d);
      case "leaseDuration" -> builder.leaseDuration(d);
      default -> throw new IllegalArgumentException("no setter " + setter);
    };
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(
      strings = {
        "defaultJobTimeout",
        "pollInterval",
        "priorityAging",
        "shutdownGracePeriod",
        "leaseDuration"
      })
  void durationSetter_withNull_namesTheField(String setter) {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> setDuration(builder(), setter, null));

    assertEquals(setter + " must not be null", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}({1})")
  @CsvSource({
    "defaultJobTimeout,   PT0S,    must be between PT0.001S and PT8760H",
    "defaultJobTimeout,   PT-1S,   must be between PT0.001S and PT8760H",
    "defaultJobTimeout,   P366D,   must be between PT0.001S and PT8760H",
    "pollInterval,        PT0S,    must be positive",
    "pollInterval,        PT-1S,   must be positive",
    "priorityAging,       PT0S,    must be positive",
    "priorityAging,       -PT1M,   must be positive",
    "shutdownGracePeriod, PT-1S,   must not be negative",
    "shutdownGracePeriod, -PT0.001S, must not be negative",
    "leaseDuration,       PT0.099S, must be at least 100ms",
    "leaseDuration,       PT0S,    must be at least 100ms",
    "leaseDuration,       PT-1S,   must be at least 100ms",
  })
  void durationSetter_outOfBounds_namesTheFieldTheLimitAndTheValue(
      String setter, String value, String rule) {
    Duration d = Duration.parse(value);

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> setDuration(builder(), setter, d));

    assertEquals(setter + " " + rule + ", was " + d, e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}({1})")
  @CsvSource({
    "defaultJobTimeout,   PT0.001S",
    "pollInterval,        PT0.001S",
    "priorityAging,       PT0.001S",
    "shutdownGracePeriod, PT0S",
    "leaseDuration,       PT0.1S",
  })
  void durationSetter_atTheBound_returnsTheBuilder(String setter, String value) {
    BatchService.Builder builder = builder();

    assertSame(builder, setDuration(builder, setter, Duration.parse(value)));
  }

  // ---------------------------------------------------------------- retry settings

  @Test
  void retryBackoff_withNullInitial_namesTheField() {
    NullPointerException e =
        assertThrows(
            NullPointerException.class, () -> builder().retryBackoff(null, Duration.ofSeconds(1)));

    assertEquals("retryBackoff initial must not be null", e.getMessage());
  }

  @Test
  void retryBackoff_withNullMax_namesTheField() {
    NullPointerException e =
        assertThrows(
            NullPointerException.class, () -> builder().retryBackoff(Duration.ofSeconds(1), null));

    assertEquals("retryBackoff max must not be null", e.getMessage());
  }

  @Test
  void retryBackoff_withNegativeInitial_namesTheFieldAndTheValue() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> builder().retryBackoff(Duration.ofSeconds(-1), Duration.ofSeconds(1)));

    assertEquals("retryBackoff initial must not be negative, was PT-1S", e.getMessage());
  }

  @Test
  void retryBackoff_withMaxBelowInitial_namesBothValues() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> builder().retryBackoff(Duration.ofSeconds(10), Duration.ofSeconds(5)));

    assertEquals("retryBackoff max must be at least initial (PT10S), was PT5S", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] initial={0} max={1}")
  @CsvSource({"PT0S, PT0S", "PT0S, PT1S", "PT10S, PT10S", "PT1S, PT5M"})
  void retryBackoff_withinBounds_returnsTheBuilder(String initial, String max) {
    BatchService.Builder builder = builder();

    assertSame(builder, builder.retryBackoff(Duration.parse(initial), Duration.parse(max)));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(doubles = {-0.1, 1.1, -1.0, Double.NaN, Double.NEGATIVE_INFINITY})
  void retryJitter_outsideZeroToOne_namesTheFieldTheBoundsAndTheValue(double fraction) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder().retryJitter(fraction));

    assertEquals("retryJitter must be between 0.0 and 1.0, was " + fraction, e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(doubles = {0.0, 0.5, 1.0})
  void retryJitter_withinBounds_returnsTheBuilder(double fraction) {
    BatchService.Builder builder = builder();

    assertSame(builder, builder.retryJitter(fraction));
  }

  // ---------------------------------------------------------------- keyed settings

  @Test
  void processor_withNullJobType_namesTheField() {
    NullPointerException e =
        assertThrows(
            NullPointerException.class, () -> BatchService.builder().processor(null, ctx -> ""));

    assertEquals("jobType must not be null", e.getMessage());
  }

  @Test
  void processor_withNullProcessor_namesTheField() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> BatchService.builder().processor("t", null));

    assertEquals("processor must not be null", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] ''{0}''")
  @ValueSource(strings = {"", "  ", "\t"})
  void processor_withBlankJobType_namesTheField(String jobType) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> BatchService.builder().processor(jobType, ctx -> ""));

    assertEquals("jobType must not be blank", e.getMessage());
  }

  @Test
  void processor_withJobTypeOverMaxLength_namesTheFieldTheLimitAndTheLength() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> BatchService.builder().processor("x".repeat(101), ctx -> ""));

    assertEquals("jobType must be at most 100 characters, was 101", e.getMessage());
  }

  @Test
  void processor_duplicateJobType_namesTheKey() {
    BatchService.Builder builder = builder();

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder.processor("t", ctx -> "again"));

    assertEquals("a processor for job type 't' is already registered", e.getMessage());
  }

  @Test
  void rateLimit_withNullJobType_namesTheField() {
    NullPointerException e =
        assertThrows(
            NullPointerException.class, () -> builder().rateLimit(null, 1, Duration.ofSeconds(1)));

    assertEquals("jobType must not be null", e.getMessage());
  }

  @Test
  void rateLimit_withBlankJobType_namesTheField() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> builder().rateLimit(" ", 1, Duration.ofSeconds(1)));

    assertEquals("jobType must not be blank", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(ints = {0, -1, Integer.MIN_VALUE})
  void rateLimit_withNonPositivePermits_namesTheFieldAndTheValue(int permits) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> builder().rateLimit("t", permits, Duration.ofSeconds(1)));

    assertEquals("rateLimit permits must be positive, was " + permits, e.getMessage());
  }

  @Test
  void rateLimit_withNullPer_namesTheField() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> builder().rateLimit("t", 1, null));

    assertEquals("rateLimit per must not be null", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(strings = {"PT0S", "PT-1S"})
  void rateLimit_withNonPositivePer_namesTheFieldAndTheValue(String per) {
    Duration d = Duration.parse(per);

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder().rateLimit("t", 1, d));

    assertEquals("rateLimit per must be positive, was " + d, e.getMessage());
  }

  @Test
  void rateLimit_duplicateJobType_namesTheKey() {
    BatchService.Builder builder = builder().rateLimit("t", 5, Duration.ofSeconds(1));

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> builder.rateLimit("t", 10, Duration.ofSeconds(1)));

    assertEquals("a rate limit for job type 't' is already set", e.getMessage());
  }

  @Test
  void rateLimit_rejected_registersNothing() {
    BatchService.Builder builder = builder();
    assertThrows(
        IllegalArgumentException.class, () -> builder.rateLimit("t", 0, Duration.ofSeconds(1)));

    assertSame(builder, builder.rateLimit("t", 5, Duration.ofSeconds(1)));
  }

  // ---------------------------------------------------------------- other setters

  @Test
  void store_withNull_namesTheField() {
    NullPointerException e = assertThrows(NullPointerException.class, () -> builder().store(null));

    assertEquals("store must not be null", e.getMessage());
  }

  @Test
  void listener_withNull_namesTheField() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> builder().listener(null));

    assertEquals("listener must not be null", e.getMessage());
  }

  @Test
  void clock_withNull_namesTheField() {
    NullPointerException e = assertThrows(NullPointerException.class, () -> builder().clock(null));

    assertEquals("clock must not be null", e.getMessage());
  }

  @Test
  void nodeId_withNull_namesTheField() {
    NullPointerException e = assertThrows(NullPointerException.class, () -> builder().nodeId(null));

    assertEquals("nodeId must not be null", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] ''{0}''")
  @ValueSource(strings = {"", "   "})
  void nodeId_blank_namesTheField(String nodeId) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder().nodeId(nodeId));

    assertEquals("nodeId must not be blank", e.getMessage());
  }

  @Test
  void nodeId_overMaxLength_namesTheFieldTheLimitAndTheLength() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder().nodeId("n".repeat(101)));

    assertEquals("nodeId must be at most 100 characters, was 101", e.getMessage());
  }

  @Test
  void nodeId_atMaxLength_isUsed() {
    String nodeId = "n".repeat(100);

    try (BatchService service = builder().nodeId(nodeId).build()) {
      assertEquals(nodeId, service.nodeId());
    }
  }

  // ---------------------------------------------------------------- build

  @Test
  void build_rateLimitForJobTypeWithoutProcessor_namesTheType() {
    BatchService.Builder builder = builder().rateLimit("resize", 5, Duration.ofSeconds(1));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);

    assertEquals(
        "rateLimit names job type 'resize', which has no processor (with"
            + " allowUnknownJobTypes(true), it may limit the jobs of a type that pull workers run)",
        e.getMessage());
  }

  @Test
  void nodeId_markingWorkersLeases_isRefused() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder().nodeId("pull:node-1"));
    assertEquals(
        "nodeId must not start with 'pull:', which marks jobs leased to workers", e.getMessage());
  }

  @Test
  void build_rateLimitsForPulledJobType_acceptedWithUnknownJobTypes() {
    try (BatchService service =
        builder()
            .allowUnknownJobTypes(true)
            .rateLimit("gpu", 5, Duration.ofSeconds(1))
            .sharedRateLimit("gpu", 10, Duration.ofSeconds(1))
            .build()) {
      assertEquals(List.of(), service.poll("gpu", 1, Duration.ofSeconds(5)));
    }
  }

  @Test
  void build_rejected_startsNoThreads() {
    BatchService.Builder builder =
        builder().nodeId("rejected-node").rateLimit("resize", 5, Duration.ofSeconds(1));

    assertThrows(IllegalArgumentException.class, builder::build);

    List<String> started = new ArrayList<>();
    for (Thread thread : Thread.getAllStackTraces().keySet()) {
      if (thread.getName().contains("rejected-node")) {
        started.add(thread.getName());
      }
    }
    assertEquals(List.of(), started);
  }

  @Test
  void build_withRateLimitForRegisteredType_startsTheService() {
    try (BatchService service =
        builder().rateLimit("t", 5, Duration.ofSeconds(1)).nodeId("limited").build()) {
      assertEquals("limited", service.nodeId());
      assertNothingStored(service);
    }
  }

  @Test
  void build_withoutNodeId_makesOne() {
    try (BatchService first = builder().build();
        BatchService second = builder().build()) {
      assertTrue(first.nodeId().startsWith("node-"), first.nodeId());
      assertNotEquals(first.nodeId(), second.nodeId());
    }
  }

  @Test
  void build_thenBuilderChanged_builtServiceUnchanged() {
    BatchService.Builder builder = builder().nodeId("first");
    try (BatchService service = builder.build()) {
      builder.processor("u", ctx -> "ok").nodeId("second");

      BatchValidationException e =
          assertThrows(
              BatchValidationException.class, () -> service.createBatch(request("u", "p")));

      assertEquals("jobType", e.violations().get(0).field());
      assertEquals("first", service.nodeId());
    }
  }

  @Test
  void build_withAGivenStoreAndClock_usesThem() {
    JobStore store = JobStore.inMemory();
    try (BatchService service =
        builder().store(store).clock(Clock.systemUTC()).listener(new BatchListener() {}).build()) {
      Batch batch = service.createBatch(request("t", "p"));

      assertEquals(batch.id(), store.findBatch(batch.id()).orElseThrow().id());
    }
  }

  // ---------------------------------------------------------------- toString

  @Test
  void toString_showsTheSettingsThatWereSet() {
    BatchService.Builder builder =
        builder()
            .nodeId("node-a")
            .rateLimit("t", 5, Duration.ofSeconds(1))
            .listener(new BatchListener() {})
            .maxConcurrency(4)
            .defaultMaxAttempts(7)
            .pollInterval(Duration.ofMillis(250));

    String text = builder.toString();

    assertTrue(text.contains("processors=[t]"), text);
    assertTrue(text.contains("nodeId=node-a"), text);
    assertTrue(text.contains("rateLimits="), text);
    assertTrue(text.contains("listeners=1"), text);
    assertTrue(text.contains("maxConcurrency=4"), text);
    assertTrue(text.contains("defaultMaxAttempts=7"), text);
    assertTrue(text.contains("pollInterval=PT0.25S"), text);
  }

  @Test
  void toString_ofAFreshBuilder_showsNoDefaults() {
    String text = BatchService.builder().toString();

    assertTrue(text.startsWith("BatchService.Builder{"), text);
    assertFalse(text.contains("maxConcurrency"), text);
    assertFalse(text.contains("nodeId"), text);
    assertFalse(text.contains("store"), text);
  }

  // ---------------------------------------------------------------- createBatch validation

  @Test
  void createBatch_withoutRequest_namesTheField() {
    try (BatchService service = builder().build()) {
      NullPointerException e =
          assertThrows(NullPointerException.class, () -> service.createBatch(null));

      assertEquals("request must not be null", e.getMessage());
    }
  }

  @Test
  void createBatch_unknownJobType_namesTheTypeAndTheRegisteredOnes() {
    try (BatchService service = builder().build()) {
      BatchValidationException e =
          assertThrows(
              BatchValidationException.class, () -> service.createBatch(request("resize", "p")));

      assertEquals(
          List.of(
              new Violation(
                  "jobType", "no processor is registered for job type 'resize' (registered: [t])")),
          e.violations());
      assertNothingStored(service);
    }
  }

  @Test
  void submit_unknownJobType_isRejectedLikeCreateBatch() {
    try (BatchService service = builder().build()) {
      BatchValidationException e =
          assertThrows(
              BatchValidationException.class, () -> service.submit(request("resize", "p")));

      assertEquals("jobType", e.violations().get(0).field());
      assertTrue(e.getMessage().contains("'resize'"), e.getMessage());
      assertNothingStored(service);
    }
  }

  @Test
  void createBatch_payloadWithNul_namesTheItemAndStoresNothing() {
    try (BatchService service = builder().build()) {
      BatchValidationException e =
          assertThrows(
              BatchValidationException.class,
              () -> service.createBatch(request("t", "fine", "bad\u0000byte")));

      assertEquals(1, e.violations().size());
      assertEquals("items[1]", e.violations().get(0).field());
      assertTrue(e.violations().get(0).message().contains("NUL"), e.getMessage());
      assertNothingStored(service);
    }
  }

  @Test
  void maxPollInterval_shorterThanPollInterval_failsBuildNamingBoth() {
    BatchService.Builder builder =
        builder().pollInterval(Duration.ofSeconds(2)).maxPollInterval(Duration.ofSeconds(1));

    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, builder::build);

    assertTrue(e.getMessage().contains("maxPollInterval (PT1S)"), e.getMessage());
    assertTrue(e.getMessage().contains("pollInterval (PT2S)"), e.getMessage());
  }

  @Test
  void createBatch_unknownJobTypeWhenAllowed_isStored() {
    try (BatchService service = builder().allowUnknownJobTypes(true).build()) {
      Batch batch = service.createBatch(request("resize", "p"));

      assertEquals(BatchStatus.PENDING, batch.status());
      assertEquals(List.of(batch.id()), ids(service));
    }
  }

  @Test
  void createBatch_moreItemsThanMaxItemsPerBatch_namesTheLimitAndTheCount() {
    try (BatchService service = builder().maxItemsPerBatch(2).build()) {
      BatchValidationException e =
          assertThrows(
              BatchValidationException.class,
              () -> service.createBatch(request("t", "a", "b", "c")));

      assertEquals(
          List.of(new Violation("items", "a batch may have at most 2 items, had 3")),
          e.violations());
      assertNothingStored(service);
    }
  }

  @Test
  void createBatch_exactlyMaxItemsPerBatch_isStored() {
    try (BatchService service = builder().maxItemsPerBatch(2).build()) {
      Batch batch = service.createBatch(request("t", "a", "b"));

      assertEquals(2, batch.progress().total());
      assertEquals(List.of(batch.id()), ids(service));
    }
  }

  @ParameterizedTest(name = "[{index}] ''{0}'' x {1} = {2} bytes")
  @CsvSource({
    // one-byte, two-byte, three-byte characters, and a surrogate pair (four bytes)
    "a,            11, 11",
    "é,            6,  12",
    "€,            4,  12",
    "\uD83D\uDE00, 3,  12",
    "a€,           3,  12",
  })
  void createBatch_payloadOverMaxPayloadBytes_countsUtf8Bytes(String unit, int repeat, int bytes) {
    String payload = unit.repeat(repeat);
    assertEquals(bytes, payload.getBytes(UTF_8).length, "the table itself");

    try (BatchService service = builder().maxPayloadBytes(10).build()) {
      BatchValidationException e =
          assertThrows(
              BatchValidationException.class,
              () -> service.createBatch(request("t", "ok", payload)));

      assertEquals(
          List.of(
              new Violation(
                  "items[1]", "a payload may be at most 10 bytes in UTF-8, was " + bytes)),
          e.violations());
      assertNothingStored(service);
    }
  }

  @ParameterizedTest(name = "[{index}] ''{0}'' x {1} = {2} bytes")
  @CsvSource({
    "a,            10, 10",
    "é,            5,  10",
    "€,            3,  9",
    "\uD83D\uDE00, 2,  8",
    "aé€,          1,  6",
  })
  void createBatch_payloadAtMostMaxPayloadBytes_isStored(String unit, int repeat, int bytes) {
    String payload = unit.repeat(repeat);
    assertEquals(bytes, payload.getBytes(UTF_8).length, "the table itself");

    try (BatchService service = builder().maxPayloadBytes(10).build()) {
      Batch batch = service.createBatch(request("t", payload));

      assertEquals(List.of(batch.id()), ids(service));
    }
  }

  @Test
  void createBatch_withSeveralProblems_reportsThemAllTogether() {
    try (BatchService service = builder().maxItemsPerBatch(2).maxPayloadBytes(4).build()) {
      BatchRequest request = request("resize", "ok", "ééé", "x");

      BatchValidationException e =
          assertThrows(BatchValidationException.class, () -> service.createBatch(request));

      assertEquals(
          List.of(
              new Violation(
                  "jobType", "no processor is registered for job type 'resize' (registered: [t])"),
              new Violation("items", "a batch may have at most 2 items, had 3"),
              new Violation("items[1]", "a payload may be at most 4 bytes in UTF-8, was 6")),
          e.violations());
      assertTrue(e.getMessage().contains("jobType: "), e.getMessage());
      assertTrue(e.getMessage().contains("items: "), e.getMessage());
      assertTrue(e.getMessage().contains("items[1]: "), e.getMessage());
      assertNothingStored(service);
    }
  }

  @Test
  void createBatch_withManyOversizedPayloads_listsTenAndCountsTheRest() {
    try (BatchService service = builder().maxPayloadBytes(4).build()) {
      List<String> items = new ArrayList<>(Collections.nCopies(12, "12345"));
      items.add(0, "fine");

      BatchValidationException e =
          assertThrows(
              BatchValidationException.class,
              () -> service.createBatch(BatchRequest.builder("t").items(items).build()));

      List<Violation> violations = e.violations();
      assertEquals(11, violations.size());
      for (int i = 0; i < 10; i++) {
        assertEquals(
            new Violation(
                "items[" + (i + 1) + "]", "a payload may be at most 4 bytes in UTF-8, was 5"),
            violations.get(i));
      }
      assertEquals(new Violation("items", "2 more payloads are over 4 bytes"), violations.get(10));
      assertNothingStored(service);
    }
  }

  @Test
  void createBatch_rejected_doesNotUseTheIdempotencyKey() {
    try (BatchService service = builder().maxPayloadBytes(4).build()) {
      BatchRequest tooBig = BatchRequest.builder("t").item("12345").idempotencyKey("k").build();
      BatchRequest fine = BatchRequest.builder("t").item("1234").idempotencyKey("k").build();
      assertThrows(BatchValidationException.class, () -> service.createBatch(tooBig));

      Batch batch = service.createBatch(fine);

      assertEquals(1, batch.progress().total());
      assertEquals(List.of(batch.id()), ids(service));
    }
  }

  private static List<BatchId> ids(BatchService service) {
    return service.listBatches(BatchQuery.all()).items().stream().map(Batch::id).toList();
  }

  // ---------------------------------------------------------------- unknown ids and nulls

  private static void call(BatchService service, String method, BatchId id) {
    switch (method) {
      case "getBatch" -> service.getBatch(id);
      case "startBatch" -> service.startBatch(id);
      case "cancelBatch" -> service.cancelBatch(id);
      case "getJobs" -> service.getJobs(id, JobQuery.all());
      case "deleteBatch" -> service.deleteBatch(id);
      case "retryFailed" -> service.retryFailed(id);
      case "completion" -> service.completion(id);
      case "awaitCompletion" -> service.awaitCompletion(id, Duration.ofMillis(10));
      case "createBatch" -> service.createBatch(request("t", "p"));
      case "submit" -> service.submit(request("t", "p"));
      case "listBatches" -> service.listBatches(BatchQuery.all());
      case "statistics" -> service.statistics();
      default -> throw new IllegalArgumentException("no method " + method);
    }
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(
      strings = {
        "getBatch",
        "startBatch",
        "cancelBatch",
        "getJobs",
        "deleteBatch",
        "retryFailed",
        "completion",
        "awaitCompletion"
      })
  void unknownBatchId_throwsBatchNotFoundNamingTheId(String method) {
    BatchId unknown = BatchId.random();
    try (BatchService service = builder().build()) {
      service.createBatch(request("t", "p")); // a batch exists, just not this one

      BatchNotFoundException e =
          assertThrows(BatchNotFoundException.class, () -> call(service, method, unknown));

      assertEquals(unknown, e.batchId());
      assertEquals("batch " + unknown + " not found", e.getMessage());
    }
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(
      strings = {
        "getBatch",
        "startBatch",
        "cancelBatch",
        "getJobs",
        "deleteBatch",
        "retryFailed",
        "completion",
        "awaitCompletion"
      })
  void nullBatchId_namesTheField(String method) {
    try (BatchService service = builder().build()) {
      NullPointerException e =
          assertThrows(NullPointerException.class, () -> call(service, method, null));

      assertEquals("id must not be null", e.getMessage());
    }
  }

  @Test
  void nullQueries_nameTheField() {
    try (BatchService service = builder().build()) {
      BatchId id = service.createBatch(request("t", "p")).id();

      NullPointerException jobs =
          assertThrows(NullPointerException.class, () -> service.getJobs(id, null));
      NullPointerException batches =
          assertThrows(NullPointerException.class, () -> service.listBatches(null));

      assertEquals("query must not be null", jobs.getMessage());
      assertEquals("query must not be null", batches.getMessage());
    }
  }

  @Test
  void awaitCompletion_negativeTimeout_namesTheFieldAndTheValue() {
    try (BatchService service = builder().build()) {
      BatchId id = service.createBatch(request("t", "p")).id();

      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> service.awaitCompletion(id, Duration.ofSeconds(-1)));

      assertEquals("timeout must not be negative, was PT-1S", e.getMessage());
    }
  }

  // ---------------------------------------------------------------- after close

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(
      strings = {
        "createBatch",
        "submit",
        "getBatch",
        "startBatch",
        "cancelBatch",
        "getJobs",
        "deleteBatch",
        "retryFailed",
        "listBatches",
        "completion",
        "awaitCompletion",
        "statistics"
      })
  void afterClose_methodThrowsIllegalState(String method) {
    BatchService service = builder().nodeId("closed-node").build();
    BatchId id = service.createBatch(request("t", "p")).id();
    service.close();

    IllegalStateException e =
        assertThrows(IllegalStateException.class, () -> call(service, method, id));

    assertEquals("batchkit service closed-node is closed", e.getMessage());
  }

  @Test
  void close_calledTwice_doesNothingTheSecondTime() {
    BatchService service = builder().nodeId("twice").build();
    service.close();

    assertDoesNotThrow(service::close);

    IllegalStateException e = assertThrows(IllegalStateException.class, service::statistics);
    assertEquals("batchkit service twice is closed", e.getMessage());
  }
}
