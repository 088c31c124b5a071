package io.batchkit;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.BatchValidationException.Violation;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Hostile and malformed input through the public API with the in-memory store: nulls, huge and
 * over-limit collections, 100,000-character texts, control characters and SQL fragments, NUL
 * characters, and ids that do not exist or belong to another store. Each is either refused with an
 * exception that names the offending field, or stored and read back verbatim; and a refused call
 * changes nothing that a reader can see.
 */
@Timeout(120)
class HostileInputTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final String SQL = "'; DROP TABLE batchkit_jobs; --";
  private static final String LONG = "x".repeat(100_000);
  private static final String NUL = "a\u0000b";

  private final List<BatchService> services = new ArrayList<>();

  /** What each service's processors were handed, by payload. */
  private final Map<String, JobContextCopy> seen = new ConcurrentHashMap<>();

  private BatchService service;
  private Batch pending;
  private Batch finished;

  private record JobContextCopy(String payload, Map<String, String> metadata) {}

  @BeforeEach
  void startWithAPendingAndAFinishedBatch() {
    service = newService();
    pending =
        service.createBatch(
            BatchRequest.builder("t")
                .name("pending")
                .items(List.of("p1", "p2"))
                .metadata("k", "v")
                .idempotencyKey("pending-key")
                .build());
    finished = service.submit(BatchRequest.builder("t").name("finished").item("f1").build());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(finished.id(), WAIT).status());
  }

  @AfterEach
  void closeAll() {
    services.forEach(BatchService::close);
  }

  /** A service on its own in-memory store whose processors echo the payload. */
  private BatchService newService() {
    JobProcessor echo =
        ctx -> {
          seen.put(ctx.payload(), new JobContextCopy(ctx.payload(), ctx.batchMetadata()));
          return ctx.payload();
        };
    BatchService s =
        BatchService.builder()
            .discoverProcessors(false)
            .pollInterval(Duration.ofMillis(20))
            .processor("t", echo)
            .processor(SQL, echo)
            .build();
    services.add(s);
    return s;
  }

  /** Everything a reader can see: every batch, and every job of each. */
  private record State(List<Batch> batches, Map<BatchId, List<Job>> jobs) {}

  private static State state(BatchService s) {
    List<Batch> batches =
        s.listBatches(BatchQuery.builder().page(0, JobQuery.MAX_LIMIT).build()).items();
    Map<BatchId, List<Job>> jobs = new LinkedHashMap<>();
    for (Batch batch : batches) {
      jobs.put(batch.id(), allJobs(s, batch.id()));
    }
    return new State(batches, jobs);
  }

  private static List<Job> allJobs(BatchService s, BatchId id) {
    List<Job> all = new ArrayList<>();
    Page<Job> page;
    do {
      page = s.getJobs(id, JobQuery.all().page(all.size(), JobQuery.MAX_LIMIT));
      all.addAll(page.items());
    } while (page.hasMore());
    return all;
  }

  // ---------------------------------------------------------------- nulls

  @FunctionalInterface
  private interface Call {
    void on(BatchService service, BatchId id) throws Exception;
  }

  static Stream<Arguments> nullArguments() {
    Duration d = Duration.ofMillis(1);
    return Stream.of(
        Arguments.of("createBatch(null)", (Call) (s, id) -> s.createBatch(null), "request"),
        Arguments.of("submit(null)", (Call) (s, id) -> s.submit(null), "request"),
        Arguments.of("startBatch(null)", (Call) (s, id) -> s.startBatch(null), "id"),
        Arguments.of("getBatch(null)", (Call) (s, id) -> s.getBatch(null), "id"),
        Arguments.of("getJobs(null, q)", (Call) (s, id) -> s.getJobs(null, JobQuery.all()), "id"),
        Arguments.of("getJobs(id, null)", (Call) (s, id) -> s.getJobs(id, null), "query"),
        Arguments.of("cancelBatch(null)", (Call) (s, id) -> s.cancelBatch(null), "id"),
        Arguments.of("retryFailed(null)", (Call) (s, id) -> s.retryFailed(null), "id"),
        Arguments.of("listBatches(null)", (Call) (s, id) -> s.listBatches(null), "query"),
        Arguments.of("deleteBatch(null)", (Call) (s, id) -> s.deleteBatch(null), "id"),
        Arguments.of("completion(null)", (Call) (s, id) -> s.completion(null), "id"),
        Arguments.of(
            "awaitCompletion(null, d)", (Call) (s, id) -> s.awaitCompletion(null, d), "id"),
        Arguments.of(
            "awaitCompletion(id, null)", (Call) (s, id) -> s.awaitCompletion(id, null), "timeout"));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("nullArguments")
  void everyServiceMethod_givenNull_throwsNpeNamingTheParameterAndChangesNothing(
      String call, Call method, String parameter) {
    State before = state(service);

    NullPointerException e =
        assertThrows(NullPointerException.class, () -> method.on(service, pending.id()));

    assertEquals(parameter + " must not be null", e.getMessage(), call);
    assertEquals(before, state(service), call);
  }

  private static BatchRequest.Builder fullBuilder() {
    return BatchRequest.builder("t")
        .name("n")
        .item("a")
        .metadata("k", "v")
        .idempotencyKey("key")
        .priority(Priority.HIGH)
        .maxConcurrency(2)
        .maxAttempts(2)
        .jobTimeout(Duration.ofSeconds(1))
        .failurePolicy(FailurePolicy.maxFailures(1));
  }

  private static Arguments refusal(
      String call,
      Consumer<BatchRequest.Builder> setter,
      Class<? extends RuntimeException> type,
      String message) {
    return Arguments.of(call, setter, type, message);
  }

  static Stream<Arguments> refusedSetterCalls() {
    Class<NullPointerException> npe = NullPointerException.class;
    Class<IllegalArgumentException> iae = IllegalArgumentException.class;
    String nulAt1 = " must not contain the NUL character (U+0000), found at index 1";
    return Stream.of(
        refusal("name(null)", b -> b.name(null), npe, "name must not be null"),
        refusal(
            "name(100k)",
            b -> b.name(LONG),
            iae,
            "name must be at most 200 characters, was 100000"),
        refusal("name(NUL)", b -> b.name(NUL), iae, "name" + nulAt1),
        refusal(
            "name(controls only)", b -> b.name("\t\r\n\u000B\f"), iae, "name must not be blank"),
        refusal("item(null)", b -> b.item(null), npe, "items[1] must not be null"),
        refusal("items(null)", b -> b.items(null), npe, "items must not be null"),
        refusal(
            "items([b, null])",
            b -> b.items(Arrays.asList("b", null)),
            npe,
            "items[2] must not be null"),
        refusal(
            "metadata(null, v)", b -> b.metadata(null, "v"), npe, "metadata key must not be null"),
        refusal(
            "metadata(k2, null)",
            b -> b.metadata("k2", null),
            npe,
            "metadata[k2] must not be null"),
        refusal(
            "metadata(100k, v)",
            b -> b.metadata(LONG, "v"),
            iae,
            "metadata key must be at most 100 characters, was 100000"),
        refusal(
            "metadata(k2, 100k)",
            b -> b.metadata("k2", LONG),
            iae,
            "metadata[k2] must be at most 1000 characters, was 100000"),
        refusal("metadata(NUL, v)", b -> b.metadata(NUL, "v"), iae, "metadata key" + nulAt1),
        refusal("metadata(k2, NUL)", b -> b.metadata("k2", NUL), iae, "metadata[k2]" + nulAt1),
        refusal(
            "metadata(k, again)",
            b -> b.metadata("k", "again"),
            iae,
            "metadata key 'k' was already given"),
        refusal(
            "idempotencyKey(null)",
            b -> b.idempotencyKey(null),
            npe,
            "idempotencyKey must not be null"),
        refusal(
            "idempotencyKey(100k)",
            b -> b.idempotencyKey(LONG),
            iae,
            "idempotencyKey must be at most 200 characters, was 100000"),
        refusal("idempotencyKey(NUL)", b -> b.idempotencyKey(NUL), iae, "idempotencyKey" + nulAt1),
        refusal("priority(null)", b -> b.priority(null), npe, "priority must not be null"),
        refusal("jobTimeout(null)", b -> b.jobTimeout(null), npe, "jobTimeout must not be null"),
        refusal(
            "jobTimeout(-1s)",
            b -> b.jobTimeout(Duration.ofSeconds(-1)),
            iae,
            "jobTimeout must be between PT0.001S and PT8760H, was PT-1S"),
        refusal(
            "failurePolicy(null)",
            b -> b.failurePolicy(null),
            npe,
            "failurePolicy must not be null"),
        refusal(
            "maxConcurrency(MIN)",
            b -> b.maxConcurrency(Integer.MIN_VALUE),
            iae,
            "maxConcurrency must be between 1 and 10000, was -2147483648"),
        refusal(
            "maxAttempts(MAX)",
            b -> b.maxAttempts(Integer.MAX_VALUE),
            iae,
            "maxAttempts must be between 1 and 100, was 2147483647"));
  }

  /**
   * Every refused BatchRequest.Builder call names the field, never echoes a huge value, and leaves
   * the builder exactly as it was: what it builds afterwards equals what it built before.
   */
  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("refusedSetterCalls")
  void everyRequestSetter_refusingAValue_namesTheFieldAndLeavesTheBuilderAsItWas(
      String call,
      Consumer<BatchRequest.Builder> setter,
      Class<? extends RuntimeException> type,
      String message) {
    BatchRequest.Builder builder = fullBuilder();
    BatchRequest before = builder.build();

    RuntimeException e = assertThrows(type, () -> setter.accept(builder));

    assertEquals(message, e.getMessage(), call);
    assertEquals(before, builder.build(), call);
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @ValueSource(strings = {"builder", "processor", "rateLimit", "nodeId"})
  void hostileJobTypesAndNodeIds_areRefusedNamingTheField(String where) {
    List<RuntimeException> refused = new ArrayList<>();
    for (String bad : new String[] {null, LONG, NUL, " \t\u000B "}) {
      Class<? extends RuntimeException> type =
          bad == null ? NullPointerException.class : IllegalArgumentException.class;
      refused.add(
          assertThrows(
              type,
              () -> {
                switch (where) {
                  case "builder" -> BatchRequest.builder(bad);
                  case "processor" -> BatchService.builder().processor(bad, ctx -> "x");
                  case "rateLimit" ->
                      BatchService.builder().rateLimit(bad, 1, Duration.ofSeconds(1));
                  default -> BatchService.builder().nodeId(bad);
                }
              },
              where + "(" + (bad == null ? "null" : bad.length() + " chars") + ")"));
    }
    String field = where.equals("nodeId") ? "nodeId" : "jobType";
    for (RuntimeException e : refused) {
      assertTrue(e.getMessage().startsWith(field + " must "), e.getMessage());
      assertTrue(e.getMessage().length() < 200, "does not echo the value: " + e.getMessage());
    }
  }

  // ---------------------------------------------------------------- empty and huge collections

  @Test
  void oneItemMoreThanTheDefaultMaxItemsPerBatch_isRefusedByCreateAndSubmitAndChangesNothing() {
    BatchRequest request =
        BatchRequest.builder("t").items(Stream.generate(() -> "i").limit(100_001).toList()).build();
    State before = state(service);

    BatchValidationException created =
        assertThrows(BatchValidationException.class, () -> service.createBatch(request));
    BatchValidationException submitted =
        assertThrows(BatchValidationException.class, () -> service.submit(request));

    List<Violation> expected =
        List.of(new Violation("items", "a batch may have at most 100000 items, had 100001"));
    assertEquals(expected, created.violations());
    assertEquals(expected, submitted.violations());
    assertEquals(before, state(service));
  }

  @Test
  void exactlyTheDefaultMaxItemsPerBatch_isStoredInOrderAndCanBeCancelledAndDeleted() {
    List<String> payloads =
        IntStream.range(0, 100_000).mapToObj(i -> "item-" + i).collect(Collectors.toList());
    State before = state(service);

    Batch batch = service.createBatch(BatchRequest.builder("t").items(payloads).build());

    assertEquals(Progress.allQueued(100_000), service.getBatch(batch.id()).progress());
    List<Job> jobs = allJobs(service, batch.id());
    assertEquals(payloads, jobs.stream().map(Job::payload).toList());
    assertEquals(100_000, jobs.stream().map(Job::id).distinct().count());
    CancellationSummary summary = service.cancelBatch(batch.id());
    assertEquals(new CancellationSummary(batch.id(), 100_000, 0, 0), summary);
    service.deleteBatch(batch.id());
    assertEquals(before, state(service), "deleting it left the others as they were");
  }

  @Test
  void hostilePaging_givesEmptyPagesOrNamesTheField() {
    Page<Job> past =
        service.getJobs(pending.id(), JobQuery.all().page(Integer.MAX_VALUE, JobQuery.MAX_LIMIT));
    Page<Batch> pastBatches =
        service.listBatches(
            BatchQuery.builder().page(Integer.MAX_VALUE, JobQuery.MAX_LIMIT).build());

    assertEquals(List.of(), past.items());
    assertFalse(past.hasMore());
    assertEquals(List.of(), pastBatches.items());
    assertFalse(pastBatches.hasMore());
    assertEquals(
        "offset must not be negative, was -1",
        assertThrows(IllegalArgumentException.class, () -> JobQuery.all().page(-1, 1))
            .getMessage());
    assertEquals(
        "limit must be between 1 and 10000, was 10001",
        assertThrows(IllegalArgumentException.class, () -> JobQuery.all().page(0, 10_001))
            .getMessage());
    assertEquals(
        "limit must be between 1 and 10000, was 0",
        assertThrows(IllegalArgumentException.class, () -> BatchQuery.builder().page(0, 0))
            .getMessage());
  }

  // ---------------------------------------------------------------- stored verbatim

  private static String controls() {
    StringBuilder s = new StringBuilder("c");
    for (char c = 1; c < 0x20; c++) {
      s.append(c);
    }
    return s.append('\u007F').append("\u0080\u009F").toString();
  }

  static Stream<Arguments> hostileTexts() {
    return Stream.of(
        Arguments.of("SQL fragment", SQL),
        Arguments.of("more SQL", "\" OR 1=1; DELETE FROM batchkit_batches WHERE ''=''; /* */ --"),
        Arguments.of("C0 and C1 controls and DEL", controls()),
        Arguments.of("line ends and padding", "  \r\n padded \n\t "),
        Arguments.of(
            "Unicode tricks",
            "\u202Eevil\u202C \uFEFFbom \u2028\u2029 zero\u200Bwidth é € \uD83D\uDE00"
                + " \uD83D\uDC68\u200D\uD83D\uDC69\u200D\uD83D\uDC67"),
        Arguments.of(
            "escapes and templates",
            "\\' \\\" % _ \\\\ $1 ${jndi:ldap://example.invalid/a} <script>x</script> {{7*7}}"));
  }

  /**
   * A hostile text used as name, metadata key and value, payload, idempotency key: each is stored,
   * handed to the processor, returned as its result, read back and matched by a query exactly as it
   * was given; and the idempotency key still finds the batch.
   */
  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("hostileTexts")
  void aHostileText_isStoredHandedOverAndReadBackVerbatim(String kind, String text) {
    String payload = text + "#payload";
    BatchRequest request =
        BatchRequest.builder("t")
            .name(text)
            .metadata(text, text)
            .metadata("plain", text)
            .item(payload)
            .idempotencyKey(text)
            .build();
    int batchesBefore = state(service).batches().size();

    Batch submitted = service.submit(request);
    Batch done = service.awaitCompletion(submitted.id(), WAIT);

    Map<String, String> metadata = Map.of(text, text, "plain", text);
    for (Batch batch : List.of(submitted, done, service.getBatch(submitted.id()))) {
      assertVerbatim(text, batch.name());
      assertEquals(metadata, batch.metadata());
      assertEquals(Optional.of(text), batch.idempotencyKey());
    }
    assertEquals(BatchStatus.COMPLETED, done.status());
    Job job = allJobs(service, done.id()).get(0);
    assertVerbatim(payload, job.payload());
    assertVerbatim(payload, job.result().orElseThrow());
    assertEquals(
        new JobContextCopy(payload, metadata), seen.get(payload), "what the processor saw");
    List<Batch> matched =
        service.listBatches(BatchQuery.builder().metadata(text, text).build()).items();
    assertEquals(List.of(done.id()), matched.stream().map(Batch::id).toList());
    Batch again = service.submit(request);
    assertEquals(done.id(), again.id(), "the idempotency key finds it");
    assertEquals(batchesBefore + 1, state(service).batches().size());
  }

  @Test
  void aJobTypeThatIsAnSqlFragment_isStoredRunAndSelectedVerbatim() {
    Batch batch = service.submit(BatchRequest.builder(SQL).item("x").build());
    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status());
    assertVerbatim(SQL, done.jobType());
    assertVerbatim(SQL, done.name());
    List<Batch> ofType = service.listBatches(BatchQuery.builder().jobType(SQL).build()).items();
    assertEquals(List.of(batch.id()), ofType.stream().map(Batch::id).toList());
    List<Batch> ofT = service.listBatches(BatchQuery.builder().jobType("t").build()).items();
    assertEquals(2, ofT.size());
  }

  @Test
  void aHundredThousandCharacterPayload_isStoredHandedOverAndReturnedVerbatim() {
    StringBuilder text = new StringBuilder();
    String unit = SQL + controls() + "é€\uD83D\uDE00";
    while (text.length() < 100_000) {
      text.append(unit);
    }
    text.setLength(100_000);
    if (Character.isHighSurrogate(text.charAt(text.length() - 1))) {
      text.setCharAt(text.length() - 1, 'z'); // never cut a surrogate pair in half
    }
    String payload = text.toString();
    assertTrue(payload.getBytes(UTF_8).length > 100_000, "multi-byte characters included");

    Batch batch = service.submit(BatchRequest.builder("t").item(payload).build());
    Batch done = service.awaitCompletion(batch.id(), WAIT);

    assertEquals(BatchStatus.COMPLETED, done.status());
    Job job = allJobs(service, done.id()).get(0);
    assertVerbatim(payload, job.payload());
    assertVerbatim(payload, job.result().orElseThrow());
    assertVerbatim(payload, seen.get(payload).payload());
  }

  private static void assertVerbatim(String expected, String actual) {
    assertArrayEquals(expected.getBytes(UTF_8), actual.getBytes(UTF_8), "UTF-8 bytes");
    assertEquals(expected, actual, "UTF-16 code units");
  }

  // ---------------------------------------------------------------- NUL characters

  @ParameterizedTest(name = "[{index}] NUL in item {0} of 3")
  @ValueSource(ints = {0, 1, 2})
  void aNulInAPayload_isRefusedByCreateAndSubmitNamingTheItemAndChangesNothing(int index) {
    List<String> payloads = new ArrayList<>(List.of("ok", "fine", "good"));
    payloads.set(index, "\u0000" + payloads.get(index));
    BatchRequest request = BatchRequest.builder("t").items(payloads).build();
    State before = state(service);

    for (Call call :
        List.<Call>of((s, id) -> s.createBatch(request), (s, id) -> s.submit(request))) {
      BatchValidationException e =
          assertThrows(BatchValidationException.class, () -> call.on(service, null));

      assertEquals(1, e.violations().size(), e.getMessage());
      assertEquals("items[" + index + "]", e.violations().get(0).field());
      assertTrue(e.violations().get(0).message().contains("NUL"), e.getMessage());
      assertEquals(before, state(service));
    }
  }

  // ---------------------------------------------------------------- ids that are not ours

  static Stream<Arguments> foreignIds() {
    List<String> methods =
        List.of(
            "getBatch",
            "startBatch",
            "cancelBatch",
            "getJobs",
            "deleteBatch",
            "retryFailed",
            "completion",
            "awaitCompletion");
    List<String> kinds =
        List.of(
            "another store's pending batch",
            "another store's finished batch",
            "a deleted batch",
            "the nil UUID",
            "the max UUID");
    return methods.stream().flatMap(m -> kinds.stream().map(k -> Arguments.of(m, k)));
  }

  /**
   * An id this service's store does not hold (another store's batches, a deleted batch, extreme
   * UUIDs) is not found by any method, and nothing changes here or in the other store.
   */
  @ParameterizedTest(name = "[{index}] {0}({1})")
  @MethodSource("foreignIds")
  void anIdThisStoreDoesNotHold_isNotFoundAndChangesNothingOnEitherSide(
      String method, String kind) {
    BatchService other = newService();
    Batch deleted = other.submit(BatchRequest.builder("t").name("to delete").item("d").build());
    assertEquals(BatchStatus.COMPLETED, other.awaitCompletion(deleted.id(), WAIT).status());
    other.deleteBatch(deleted.id());
    other.createBatch(BatchRequest.builder("t").name("other's own").item("o").build());
    BatchId id =
        switch (kind) {
          case "another store's pending batch" -> pending.id();
          case "another store's finished batch" -> finished.id();
          case "a deleted batch" -> deleted.id();
          case "the nil UUID" -> new BatchId(new UUID(0, 0));
          default -> new BatchId(new UUID(-1, -1));
        };
    State ours = state(service);
    State theirs = state(other);

    BatchNotFoundException e =
        assertThrows(BatchNotFoundException.class, () -> call(other, method, id));

    assertEquals(id, e.batchId());
    assertTrue(e.getMessage().contains(id.toString()), e.getMessage());
    assertEquals(ours, state(service), "the store that holds it is untouched");
    assertEquals(theirs, state(other), "the store that was asked is untouched");
  }

  private static void call(BatchService s, String method, BatchId id) {
    switch (method) {
      case "getBatch" -> s.getBatch(id);
      case "startBatch" -> s.startBatch(id);
      case "cancelBatch" -> s.cancelBatch(id);
      case "getJobs" -> s.getJobs(id, JobQuery.all());
      case "deleteBatch" -> s.deleteBatch(id);
      case "retryFailed" -> s.retryFailed(id);
      case "completion" -> s.completion(id);
      default -> s.awaitCompletion(id, Duration.ofMillis(10));
    }
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("hostileTexts")
  void parsingAHostileTextAsAnId_isRefusedNamingTheField(String kind, String text) {
    IllegalArgumentException batch =
        assertThrows(IllegalArgumentException.class, () -> BatchId.parse(text));
    IllegalArgumentException job =
        assertThrows(IllegalArgumentException.class, () -> JobId.parse(text));

    assertTrue(batch.getMessage().startsWith("id must "), batch.getMessage());
    assertTrue(job.getMessage().startsWith("id must "), job.getMessage());
  }
}
