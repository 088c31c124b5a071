package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.BatchValidationException.Violation;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class BatchRequestTest {

  private static BatchRequest.Builder builder() {
    return BatchRequest.builder("thumbnail");
  }

  /** Calls the string setter {@code setter} of a fresh builder with {@code value}. */
  private static BatchRequest.Builder set(String setter, String value) {
    return switch (setter) {
      case "jobType" -> BatchRequest.builder(value);
      case "name" -> builder().name(value);
      case "item" -> builder().item(value);
      case "metadata key" -> builder().metadata(value, "v");
      case "metadata value" -> builder().metadata("k", value);
      case "idempotencyKey" -> builder().idempotencyKey(value);
      default -> throw new IllegalArgumentException("no setter " + setter);
    };
  }

  // ---------------------------------------------------------------- nulls

  @ParameterizedTest(name = "[{index}] {0}")
  @CsvSource({
    "jobType,        jobType must not be null",
    "name,           name must not be null",
    "item,           items[0] must not be null",
    "metadata key,   metadata key must not be null",
    "metadata value, metadata[k] must not be null",
    "idempotencyKey, idempotencyKey must not be null",
  })
  void stringSetter_withNull_throwsNpeNamingTheField(String setter, String message) {
    NullPointerException e = assertThrows(NullPointerException.class, () -> set(setter, null));

    assertEquals(message, e.getMessage());
  }

  @Test
  void items_withNullCollection_namesTheField() {
    NullPointerException e = assertThrows(NullPointerException.class, () -> builder().items(null));

    assertEquals("items must not be null", e.getMessage());
  }

  @Test
  void priority_withNull_namesTheField() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> builder().priority(null));

    assertEquals("priority must not be null", e.getMessage());
  }

  @Test
  void jobTimeout_withNull_namesTheField() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> builder().jobTimeout(null));

    assertEquals("jobTimeout must not be null", e.getMessage());
  }

  @Test
  void startAt_withNull_namesTheField_andASetTimeIsKept() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> builder().startAt(null));

    assertEquals("startAt must not be null", e.getMessage());
    java.time.Instant at = java.time.Instant.parse("2030-01-01T00:00:00Z");
    assertEquals(Optional.of(at), builder().item("p").startAt(at).build().startAt());
    assertEquals(Optional.empty(), builder().item("p").build().startAt());
    assertThrows(IllegalArgumentException.class, () -> builder().startAt(java.time.Instant.MAX));
    assertThrows(
        IllegalArgumentException.class,
        () -> builder().startAt(BatchRequest.MIN_START_AT.minusMillis(1)));
    assertEquals(
        Optional.of(BatchRequest.MAX_START_AT),
        builder().item("p").startAt(BatchRequest.MAX_START_AT).build().startAt());
  }

  @Test
  void failurePolicy_withNull_namesTheField() {
    NullPointerException e =
        assertThrows(NullPointerException.class, () -> builder().failurePolicy(null));

    assertEquals("failurePolicy must not be null", e.getMessage());
  }

  @Test
  void item_withNull_namesItsIndex() {
    BatchRequest.Builder builder = builder().item("a").item("b");

    NullPointerException e = assertThrows(NullPointerException.class, () -> builder.item(null));

    assertEquals("items[2] must not be null", e.getMessage());
    assertEquals(List.of("a", "b"), builder.build().items());
  }

  @Test
  void items_withANullItem_namesItsIndexAndAddsNone() {
    BatchRequest.Builder builder = builder().item("a");

    NullPointerException e =
        assertThrows(
            NullPointerException.class, () -> builder.items(Arrays.asList("b", "c", null, "d")));

    assertEquals("items[3] must not be null", e.getMessage());
    assertEquals(List.of("a"), builder.build().items());
  }

  // ---------------------------------------------------------------- blank and too long

  @ParameterizedTest(name = "[{index}] {0} = ''{1}''")
  @CsvSource({
    "jobType,        ''",
    "jobType,        '   '",
    "name,           ''",
    "name,           ' '",
    "metadata key,   ''",
    "metadata key,   '  '",
    "idempotencyKey, ''",
    "idempotencyKey, '   '",
  })
  void stringSetter_withBlank_throwsIaeNamingTheField(String setter, String blank) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> set(setter, blank));

    assertEquals(setter + " must not be blank", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0} = ''\\t\\n''")
  @ValueSource(strings = {"jobType", "name", "metadata key", "idempotencyKey"})
  void stringSetter_withOnlyTabsAndNewlines_isBlank(String setter) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> set(setter, "\t\n"));

    assertEquals(setter + " must not be blank", e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0} over {2} characters")
  @CsvSource({
    "jobType,        jobType,        100",
    "name,           name,           200",
    "metadata key,   metadata key,   100",
    "metadata value, metadata[k],    1000",
    "idempotencyKey, idempotencyKey, 200",
  })
  void stringSetter_overMaxLength_namesTheFieldTheLimitAndTheLength(
      String setter, String field, int max) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> set(setter, "x".repeat(max + 1)));

    assertEquals(
        field + " must be at most " + max + " characters, was " + (max + 1), e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0} of {1} characters")
  @CsvSource({
    "jobType,        100",
    "name,           200",
    "metadata key,   100",
    "metadata value, 1000",
    "idempotencyKey, 200",
  })
  void stringSetter_atMaxLength_isAccepted(String setter, int max) {
    BatchRequest request = set(setter, "x".repeat(max)).item("p").build();

    String kept =
        switch (setter) {
          case "jobType" -> request.jobType();
          case "name" -> request.name();
          case "metadata key" -> request.metadata().keySet().iterator().next();
          case "metadata value" -> request.metadata().get("k");
          default -> request.idempotencyKey().orElseThrow();
        };
    assertEquals(max, kept.length());
  }

  @Test
  void limits_matchTheDocumentedConstants() {
    assertEquals(100, BatchRequest.MAX_JOB_TYPE_LENGTH);
    assertEquals(200, BatchRequest.MAX_NAME_LENGTH);
    assertEquals(100, BatchRequest.MAX_METADATA_KEY_LENGTH);
    assertEquals(1_000, BatchRequest.MAX_METADATA_VALUE_LENGTH);
    assertEquals(64, BatchRequest.MAX_METADATA_ENTRIES);
    assertEquals(200, BatchRequest.MAX_IDEMPOTENCY_KEY_LENGTH);
    assertEquals(10_000, BatchRequest.MAX_CONCURRENCY);
    assertEquals(100, BatchRequest.MAX_ATTEMPTS);
  }

  // ---------------------------------------------------------------- metadata

  @Test
  void metadata_withAnEmptyValue_isAccepted() {
    BatchRequest request = builder().metadata("note", "").item("p").build();

    assertEquals(Map.of("note", ""), request.metadata());
  }

  @Test
  void metadata_duplicateKey_namesTheKeyAndKeepsTheFirstValue() {
    BatchRequest.Builder builder = builder().metadata("tenant", "acme");

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder.metadata("tenant", "other"));

    assertEquals("metadata key 'tenant' was already given", e.getMessage());
    assertEquals(Map.of("tenant", "acme"), builder.item("p").build().metadata());
  }

  @Test
  void metadata_oneEntryOverTheLimit_namesTheFieldAndTheLimit() {
    BatchRequest.Builder builder = builder();
    for (int i = 0; i < BatchRequest.MAX_METADATA_ENTRIES; i++) {
      builder.metadata("key" + i, "value" + i);
    }

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder.metadata("one-more", "v"));

    assertTrue(e.getMessage().startsWith("metadata "), e.getMessage());
    assertTrue(e.getMessage().contains("at most 64 entries"), e.getMessage());
    Map<String, String> kept = builder.item("p").build().metadata();
    assertEquals(64, kept.size());
    assertFalse(kept.containsKey("one-more"));
  }

  // ---------------------------------------------------------------- numbers and durations

  @ParameterizedTest(name = "[{index}] {0}({1})")
  @CsvSource({
    "maxConcurrency, 0,           10000",
    "maxConcurrency, -1,          10000",
    "maxConcurrency, 10001,       10000",
    "maxConcurrency, -2147483648, 10000",
    "maxAttempts,    0,           100",
    "maxAttempts,    -5,          100",
    "maxAttempts,    101,         100",
    "maxAttempts,    2147483647,  100",
  })
  void intSetter_outOfBounds_namesTheFieldTheBoundsAndTheValue(String setter, int value, int max) {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> {
              if (setter.equals("maxConcurrency")) {
                builder().maxConcurrency(value);
              } else {
                builder().maxAttempts(value);
              }
            });

    assertEquals(setter + " must be between 1 and " + max + ", was " + value, e.getMessage());
  }

  @ParameterizedTest(name = "[{index}] {0}({1})")
  @CsvSource({"maxConcurrency, 1", "maxConcurrency, 10000", "maxAttempts, 1", "maxAttempts, 100"})
  void intSetter_atTheBounds_isAccepted(String setter, int value) {
    BatchRequest.Builder builder = builder().item("p");
    BatchRequest request =
        setter.equals("maxConcurrency")
            ? builder.maxConcurrency(value).build()
            : builder.maxAttempts(value).build();

    OptionalInt kept =
        setter.equals("maxConcurrency") ? request.maxConcurrency() : request.maxAttempts();
    assertEquals(OptionalInt.of(value), kept);
  }

  /**
   * Below a millisecond a durable store would keep 0; past 365 days timers and stored milliseconds
   * overflow (a "no timeout" of {@code Long.MAX_VALUE} seconds among them).
   */
  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(
      strings = {"PT0S", "PT-1S", "PT-0.001S", "-P1D", "PT0.000999999S", "P365DT0.001S", "P3650D"})
  void jobTimeout_outOfRange_namesTheFieldTheBoundsAndTheValue(String timeout) {
    Duration value = Duration.parse(timeout);

    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> builder().jobTimeout(value));

    assertEquals("jobTimeout must be between PT0.001S and PT8760H, was " + value, e.getMessage());
  }

  @Test
  void jobTimeout_noTimeoutAtAll_isRefusedNotOverflowed() {
    Duration forever = Duration.ofSeconds(Long.MAX_VALUE);

    assertThrows(IllegalArgumentException.class, () -> builder().jobTimeout(forever));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(strings = {"PT0.001S", "P365D"})
  void jobTimeout_atTheBounds_isAccepted(String timeout) {
    Duration value = Duration.parse(timeout);
    BatchRequest request = builder().jobTimeout(value).item("p").build();

    assertEquals(Optional.of(value), request.jobTimeout());
  }

  // ---------------------------------------------------------------- build

  @Test
  void build_withoutItems_namesTheField() {
    BatchValidationException e =
        assertThrows(BatchValidationException.class, () -> builder().build());

    assertEquals(List.of(new Violation("items", "at least one item is required")), e.violations());
    assertTrue(e.getMessage().contains("items: at least one item is required"), e.getMessage());
  }

  @Test
  void build_withAnEmptyItemCollection_namesTheField() {
    BatchValidationException e =
        assertThrows(BatchValidationException.class, () -> builder().items(List.of()).build());

    assertEquals(1, e.violations().size());
    assertEquals("items", e.violations().get(0).field());
  }

  @Test
  void build_withOnlyAnItem_takesTheDefaults() {
    BatchRequest request = builder().item("p").build();

    assertEquals("thumbnail", request.jobType());
    assertEquals("thumbnail", request.name());
    assertEquals(List.of("p"), request.items());
    assertEquals(Map.of(), request.metadata());
    assertEquals(Priority.NORMAL, request.priority());
    assertEquals(OptionalInt.empty(), request.maxConcurrency());
    assertEquals(OptionalInt.empty(), request.maxAttempts());
    assertEquals(Optional.empty(), request.jobTimeout());
    assertSame(FailurePolicy.never(), request.failurePolicy());
    assertEquals(Optional.empty(), request.idempotencyKey());
    assertFalse(request.autoStart());
  }

  @Test
  void build_withEverySetting_keepsEachOne() {
    BatchRequest request =
        builder()
            .name("October uploads")
            .items(List.of("img-1.png", "img-2.png"))
            .item("img-3.png")
            .metadata("tenant", "acme")
            .metadata("source", "s3")
            .priority(Priority.HIGH)
            .maxConcurrency(4)
            .maxAttempts(5)
            .jobTimeout(Duration.ofSeconds(30))
            .failurePolicy(FailurePolicy.maxFailures(2))
            .idempotencyKey("upload-2024-10")
            .autoStart()
            .build();

    assertEquals("October uploads", request.name());
    assertEquals(List.of("img-1.png", "img-2.png", "img-3.png"), request.items());
    assertEquals(Map.of("tenant", "acme", "source", "s3"), request.metadata());
    assertEquals(Priority.HIGH, request.priority());
    assertEquals(OptionalInt.of(4), request.maxConcurrency());
    assertEquals(OptionalInt.of(5), request.maxAttempts());
    assertEquals(Optional.of(Duration.ofSeconds(30)), request.jobTimeout());
    assertEquals(FailurePolicy.maxFailures(2), request.failurePolicy());
    assertEquals(Optional.of("upload-2024-10"), request.idempotencyKey());
    assertTrue(request.autoStart());
  }

  @Test
  void name_calledTwice_lastCallWins() {
    BatchRequest request = builder().name("first").name("second").item("p").build();

    assertEquals("second", request.name());
  }

  // ---------------------------------------------------------------- immutability

  @Test
  void build_returnsUnmodifiableCollections() {
    BatchRequest request = builder().item("p").metadata("k", "v").build();

    assertThrows(UnsupportedOperationException.class, () -> request.items().add("q"));
    assertThrows(UnsupportedOperationException.class, () -> request.metadata().put("k2", "v"));
    assertEquals(List.of("p"), request.items());
    assertEquals(Map.of("k", "v"), request.metadata());
  }

  @Test
  void build_thenBuilderChanged_builtRequestUnchanged() {
    BatchRequest.Builder builder = builder().item("p").metadata("k", "v");
    BatchRequest request = builder.build();

    builder.item("late").metadata("k2", "v2").name("renamed");

    assertEquals(List.of("p"), request.items());
    assertEquals(Map.of("k", "v"), request.metadata());
    assertEquals("thumbnail", request.name());
  }

  @Test
  void constructor_copiesTheCollectionsItIsGiven() {
    List<String> items = new ArrayList<>(List.of("p"));
    Map<String, String> metadata = new HashMap<>(Map.of("k", "v"));
    BatchRequest request =
        new BatchRequest(
            "t",
            "t",
            items,
            metadata,
            Priority.NORMAL,
            OptionalInt.empty(),
            OptionalInt.empty(),
            Optional.empty(),
            FailurePolicy.never(),
            Optional.empty(),
            false,
            Optional.empty());

    items.add("q");
    metadata.put("k2", "v2");

    assertEquals(List.of("p"), request.items());
    assertEquals(Map.of("k", "v"), request.metadata());
  }

  @Test
  void constructor_refusesWhatTheBuilderRefuses_andNamesEveryRuleBrokenAtOnce() {
    BatchValidationException e =
        assertThrows(
            BatchValidationException.class,
            () ->
                new BatchRequest(
                    "t",
                    "n".repeat(5_000),
                    List.of("p"),
                    Map.of(" ", "v"),
                    Priority.NORMAL,
                    OptionalInt.of(0),
                    OptionalInt.of(0),
                    Optional.of(Duration.ZERO),
                    FailurePolicy.never(),
                    Optional.of("k".repeat(1_000)),
                    false,
                    Optional.empty()));

    assertEquals(
        List.of(
            "name", "metadata", "maxConcurrency", "maxAttempts", "jobTimeout", "idempotencyKey"),
        e.violations().stream().map(Violation::field).toList(),
        e.getMessage());
    assertFalse(e.getMessage().contains("nnnnnnnnnn"), "no value is quoted: " + e.getMessage());
  }

  @Test
  void constructor_refusesUpperBoundsAndBadMetadataValues_asTheBuilderDoes() {
    Map<String, String> tooMany = new HashMap<>();
    for (int i = 0; i <= BatchRequest.MAX_METADATA_ENTRIES; i++) {
      tooMany.put("k" + i, "v");
    }
    assertThrows(BatchValidationException.class, () -> request(tooMany, OptionalInt.empty()));
    assertThrows(
        BatchValidationException.class,
        () -> request(Map.of("k", "v".repeat(1_001)), OptionalInt.empty()));
    assertThrows(
        BatchValidationException.class, () -> request(Map.of("k", "nul\0"), OptionalInt.empty()));
    assertThrows(
        BatchValidationException.class,
        () -> request(Map.of(), OptionalInt.of(BatchRequest.MAX_CONCURRENCY + 1)));
    assertEquals(
        OptionalInt.of(BatchRequest.MAX_CONCURRENCY),
        request(Map.of(), OptionalInt.of(BatchRequest.MAX_CONCURRENCY)).maxConcurrency());
  }

  private static BatchRequest request(Map<String, String> metadata, OptionalInt concurrency) {
    return new BatchRequest(
        "t",
        "t",
        List.of("p"),
        metadata,
        Priority.NORMAL,
        concurrency,
        OptionalInt.empty(),
        Optional.empty(),
        FailurePolicy.never(),
        Optional.empty(),
        false,
        Optional.empty());
  }

  @Test
  void items_collectionChangedAfterwards_builderUnchanged() {
    List<String> payloads = new ArrayList<>(List.of("a", "b"));
    BatchRequest.Builder builder = builder().items(payloads);

    payloads.add("c");

    assertEquals(List.of("a", "b"), builder.build().items());
  }

  // ---------------------------------------------------------------- toString

  @Test
  void toString_doesNotContainPayloads() {
    BatchRequest request =
        builder().item("secret-payload-1").item("secret-payload-2").name("nightly").build();

    String text = request.toString();

    assertFalse(text.contains("secret-payload"), text);
    assertTrue(text.contains("items=2"), text);
    assertTrue(text.contains("jobType=thumbnail"), text);
    assertTrue(text.contains("name=nightly"), text);
  }

  @Test
  void builderToString_doesNotContainPayloadsOrMetadataValues() {
    BatchRequest.Builder builder =
        builder()
            .item("secret-payload-1")
            .items(List.of("secret-payload-2", "secret-payload-3"))
            .metadata("token", "secret-value");

    String text = builder.toString();

    assertFalse(text.contains("secret-payload"), text);
    assertFalse(text.contains("secret-value"), text);
    assertTrue(text.contains("items=3"), text);
    assertTrue(text.contains("token"), text);
  }

  @Test
  void textsWithNul_areRefusedNamingTheField() {
    BatchRequest.Builder builder = BatchRequest.builder("t");

    IllegalArgumentException name =
        assertThrows(IllegalArgumentException.class, () -> builder.name("a\u0000b"));
    IllegalArgumentException value =
        assertThrows(IllegalArgumentException.class, () -> builder.metadata("k", "v\u0000"));
    IllegalArgumentException type =
        assertThrows(IllegalArgumentException.class, () -> BatchRequest.builder("\u0000t"));

    assertTrue(name.getMessage().startsWith("name must not contain the NUL"), name.getMessage());
    assertTrue(value.getMessage().startsWith("metadata[k] must not contain"), value.getMessage());
    assertTrue(type.getMessage().startsWith("jobType must not contain"), type.getMessage());
  }
}
