package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchQuery;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.BatchValidationException;
import io.batchkit.BatchValidationException.Violation;
import io.batchkit.IdempotencyConflictException;
import io.batchkit.Job;
import io.batchkit.JobContext;
import io.batchkit.JobId;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.Progress;
import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.ClaimedJob;
import io.batchkit.spi.JobOutcome;
import io.batchkit.spi.JobStoreException;
import io.batchkit.testkit.Stores;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestReporter;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.function.Executable;

/**
 * Hostile and malformed input through the public API ({@link BatchService} on a {@link
 * JdbcJobStore}), on one database: control characters, SQL fragments, unicode, lengths at and over
 * the documented limits, texts that differ only in case or spaces, invalid table prefixes, and ids
 * that do not exist or belong to another store. Each input is either stored and read back exactly
 * (compared char for char, which for valid UTF-16 is byte for byte in UTF-8) or refused with a
 * clear exception that names the field, and a refused input changes nothing: the row counts of both
 * stores' tables are compared before and after.
 *
 * <p>Two stores share the database under two prefixes: the one under test, whose service runs echo
 * processors, and "the other store", whose service runs nothing. The tables are created once per
 * class, emptied before each test and dropped at the end.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Timeout(300)
abstract class AbstractHostileInputTest {
  static final String ECHO = "echo";
  static final String FAIL = "fail";

  /** A registered job type that is itself hostile: a quote, an SQL fragment and non-ASCII. */
  static final String HOSTILE_TYPE = "Type'; DROP TABLE x; -- \u00e9\ud83d\ude00";

  private final String prefix = TestDatabases.uniquePrefix();
  private final String otherPrefix = TestDatabases.uniquePrefix();
  private DataSource dataSource;
  private JdbcJobStore store;
  private JdbcJobStore otherStore;
  private BatchService service;
  private BatchService otherService;

  /** A second service on the store under test that runs nothing, so its jobs stay queued. */
  private BatchService front;

  /** What each processor run was handed, by job. */
  private final Map<JobId, String> seen = new ConcurrentHashMap<>();

  /** Returns the database; called once per class. */
  protected abstract DataSource openDataSource();

  @BeforeAll
  void open() {
    dataSource = openDataSource();
    store = JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
    otherStore =
        JdbcJobStore.builder(dataSource).tablePrefix(otherPrefix).createSchema(true).build();
    service =
        BatchService.builder()
            .store(store)
            .discoverProcessors(false)
            .nodeId("hostile")
            .pollInterval(Duration.ofMillis(20))
            .maxPollInterval(Duration.ofMillis(200))
            .processor(ECHO, this::echo)
            .processor(HOSTILE_TYPE, this::echo)
            .processor(
                FAIL,
                ctx -> {
                  seen.put(ctx.jobId(), ctx.payload());
                  throw new IllegalStateException(ctx.payload());
                })
            .build();
    otherService =
        BatchService.builder()
            .store(otherStore)
            .discoverProcessors(false)
            .allowUnknownJobTypes(true)
            .nodeId("other")
            .build();
    front =
        BatchService.builder()
            .store(store)
            .discoverProcessors(false)
            .allowUnknownJobTypes(true)
            .nodeId("front")
            .build();
  }

  private String echo(JobContext ctx) {
    seen.put(ctx.jobId(), ctx.payload());
    return ctx.payload();
  }

  @BeforeEach
  void emptyTables() throws SQLException {
    TestDatabases.clear(dataSource, prefix);
    TestDatabases.clear(dataSource, otherPrefix);
    seen.clear();
  }

  @AfterAll
  void close() throws Exception {
    try {
      if (service != null) {
        service.close();
      }
      if (otherService != null) {
        otherService.close();
      }
      if (front != null) {
        front.close();
      }
    } finally {
      if (dataSource != null) {
        TestDatabases.drop(dataSource, prefix);
        TestDatabases.drop(dataSource, otherPrefix);
        if (dataSource instanceof AutoCloseable closeable) {
          closeable.close();
        }
      }
    }
  }

  // ------------------------------------------------------------------------------------------
  // hostile texts

  /** Every control character but NUL: C0, DEL and C1. */
  static final String CONTROL =
      IntStream.concat(IntStream.rangeClosed(0x01, 0x1f), IntStream.rangeClosed(0x7f, 0x9f))
          .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append)
          .toString();

  /**
   * Texts that break careless SQL, JSON, LIKE patterns or encodings. The DROP statements name this
   * class's real tables, so an injection that worked would be noticed.
   */
  List<String> hostileTexts() {
    return List.of(
        CONTROL,
        "line one\nline two\r\nline three\rend",
        "tab\there\u000bvertical\u000cform feed\u0008backspace\u001bescape\u007fdel",
        "'; DROP TABLE " + prefix + "jobs; --",
        "'); DELETE FROM " + prefix + "batches; --",
        "\\' OR 1=1 --",
        "' OR '1'='1",
        "\" OR \"\"=\"",
        "\\",
        "\\\\",
        "trailing backslash \\",
        "\\'",
        "\\0 \\n \\t \\Z \\b \\u0000 \\u0041 \\x00",
        "%",
        "_",
        "%_%",
        "a%b_c",
        "*/ /* -- # ;",
        "$$ $1 $tag$ drop $tag$",
        "? ?? ?1 :name @var {fn now()} {d '2020-01-01'}",
        "{\"a\":\"b\",\"c\":[1,2]}",
        "\"quoted\" \\\"escaped\\\"",
        "\ud83d\ude00\ud83d\udc4d\ud83c\udffd\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67\u200d\ud83d\udc66",
        "\u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627 mixed RTL",
        "\u202eevil\u202c override",
        "e\u0301 combining",
        "\u00e9 precomposed",
        "Z\u0334\u0321\u0322\u031b\u0317\u0347\u032d zalgo",
        "\ud835\udd18\ud835\udd2b\ud835\udd26\ud835\udd20\ud835\udd2c\ud835\udd21\ud835\udd22 astral",
        "\ufeffbom and zero\u200bwidth \u2060joiner",
        "line\u2028separator\u2029paragraph",
        "\u00a0no-break\u00a0space\u3000ideographic",
        "  leading and trailing  ",
        "\u4e2d\u6587 \u65e5\u672c\u8a9e \ud55c\uad6d\uc5b4",
        "\ufffd replacement \uffff noncharacter \ufffe",
        "<script>alert(1)</script> &amp; &#0;");
  }

  /** Every hostile text, then a blank, an empty and a one-space payload. */
  List<String> hostilePayloads() {
    List<String> payloads = new ArrayList<>(hostileTexts());
    payloads.add("");
    payloads.add(" ");
    payloads.add("\n");
    return payloads;
  }

  /** All hostile texts run together. */
  String hostileMix() {
    return String.join("|", hostileTexts());
  }

  /** The first {@code n} chars of {@code s} repeated, never ending inside a surrogate pair. */
  static String ofLength(String s, int n) {
    StringBuilder b = new StringBuilder(n);
    while (b.length() < n) {
      b.append(s);
    }
    b.setLength(n);
    if (Character.isHighSurrogate(b.charAt(n - 1))) {
      b.setCharAt(n - 1, 'x');
    }
    return b.toString();
  }

  // ------------------------------------------------------------------------------------------
  // stored verbatim

  @Test
  void hostileNamesMetadataKeysAndPayloads_areStoredAndReadBackVerbatim() {
    List<String> texts = hostileTexts();
    List<String> payloads = hostilePayloads();
    for (int i = 0; i < texts.size(); i++) {
      String text = texts.get(i);
      BatchRequest.Builder request =
          BatchRequest.builder(ECHO)
              .name(ofLength(text, Math.min(text.length(), BatchRequest.MAX_NAME_LENGTH)))
              .metadata("value", text)
              .metadata("k" + i, text)
              .idempotencyKey(text)
              .items(payloads);
      if (text.length() <= BatchRequest.MAX_METADATA_KEY_LENGTH) {
        request.metadata(text, "key " + i);
      }
      BatchRequest built = request.build();
      Batch created = service.createBatch(built);

      Batch read = service.getBatch(created.id());
      String what = "text " + i + " " + codePoints(text);
      assertVerbatim(built.name(), read.name(), "name of " + what);
      assertEquals(built.metadata(), read.metadata(), "metadata of " + what);
      assertVerbatim(text, read.idempotencyKey().orElseThrow(), "idempotency key of " + what);
      List<Job> jobs = Stores.allJobs(store, created.id());
      assertEquals(payloads.size(), jobs.size());
      for (int j = 0; j < payloads.size(); j++) {
        assertVerbatim(payloads.get(j), jobs.get(j).payload(), "payload " + j + " of " + what);
      }
      // the same key again: the same batch, nothing created
      Batch again = service.createBatch(built);
      assertEquals(created.id(), again.id(), "the idempotency key " + what + " found its batch");
      // found by its metadata, exactly
      List<BatchId> found =
          service.listBatches(BatchQuery.builder().metadata("value", text).build()).items().stream()
              .map(Batch::id)
              .toList();
      assertEquals(List.of(created.id()), found, "batches whose metadata value is " + what);
    }
    assertEquals(texts.size(), service.listBatches(BatchQuery.all()).items().size(), "batches");
    assertTablesIntact();
  }

  @Test
  void hostilePayloads_reachTheProcessorVerbatim_andTheirResultsAndErrorsAreStoredVerbatim() {
    List<String> payloads = new ArrayList<>(hostilePayloads());
    payloads.add(ofLength(hostileMix(), 100_000));
    Batch echoed =
        service.submit(BatchRequest.builder(ECHO).items(payloads).maxConcurrency(8).build());
    Batch typed =
        service.submit(
            BatchRequest.builder(HOSTILE_TYPE).items(payloads).maxConcurrency(8).build());
    Batch failed =
        service.submit(
            BatchRequest.builder(FAIL).items(payloads).maxAttempts(1).maxConcurrency(8).build());

    for (Batch batch : List.of(echoed, typed, failed)) {
      Batch done = service.awaitCompletion(batch.id(), Duration.ofMinutes(2));
      boolean failing = batch.jobType().equals(FAIL);
      assertEquals(failing ? BatchStatus.FAILED : BatchStatus.COMPLETED, done.status());
      int n = payloads.size();
      assertEquals(
          failing ? new Progress(n, 0, 0, 0, n, 0) : new Progress(n, 0, 0, n, 0, 0),
          done.progress());
      List<Job> jobs = Stores.allJobs(store, batch.id());
      assertEquals(n, jobs.size());
      for (int i = 0; i < n; i++) {
        Job job = jobs.get(i);
        String what = batch.jobType() + " payload " + i;
        assertVerbatim(payloads.get(i), job.payload(), "stored " + what);
        assertVerbatim(payloads.get(i), seen.get(job.id()), "handed to the processor: " + what);
        if (failing) {
          String error = IllegalStateException.class.getName() + ": " + payloads.get(i);
          // the service keeps the first 2,000 chars of an error
          String expected = error.length() <= 2_000 ? error : error.substring(0, 2_000) + "...";
          assertEquals(JobStatus.FAILED, job.status());
          assertVerbatim(expected, job.error().orElse(null), "error of " + what);
        } else {
          assertEquals(JobStatus.SUCCEEDED, job.status());
          assertVerbatim(payloads.get(i), job.result().orElse(null), "result of " + what);
        }
      }
    }
    assertEquals(
        List.of(typed.id()),
        service.listBatches(BatchQuery.builder().jobType(HOSTILE_TYPE).build()).items().stream()
            .map(Batch::id)
            .toList(),
        "batches of the hostile job type");
    assertTablesIntact();
  }

  /**
   * A Java string may hold a surrogate that is not part of a pair: not valid UTF-16, and not
   * encodable in UTF-8. The API must either refuse it with a clear exception, as it refuses NUL
   * ("so that a batch valid on one store is valid on all"), or give it back unchanged; it must not
   * store something else.
   */
  @Test
  void unpairedSurrogates_areRefusedOrStoredVerbatim() throws SQLException {
    String lone = "a\ud800b\udc00c";
    List<Map.Entry<String, Function<BatchService, Batch>>> inputs =
        List.of(
            Map.entry("payload", s -> s.createBatch(BatchRequest.builder(ECHO).item(lone).build())),
            Map.entry(
                "name",
                s -> s.createBatch(BatchRequest.builder(ECHO).name(lone).item("x").build())),
            Map.entry(
                "metadata value",
                s ->
                    s.createBatch(
                        BatchRequest.builder(ECHO).metadata("k", lone).item("x").build())),
            Map.entry(
                "idempotency key",
                s ->
                    s.createBatch(
                        BatchRequest.builder(ECHO).idempotencyKey(lone).item("x").build())));
    List<String> altered = new ArrayList<>();
    for (Map.Entry<String, Function<BatchService, Batch>> input : inputs) {
      Map<String, Long> before = counts();
      Batch created;
      try {
        created = input.getValue().apply(service);
      } catch (IllegalArgumentException | BatchValidationException e) {
        assertTrue(
            e.getMessage().toLowerCase(Locale.ROOT).contains("surrogate"),
            "the refusal of an unpaired surrogate in the " + input.getKey() + " says so: " + e);
        assertEquals(before, counts(), "a refused " + input.getKey() + " stored nothing");
        continue;
      }
      Batch read = service.getBatch(created.id());
      String back =
          switch (input.getKey()) {
            case "payload" -> Stores.allJobs(store, created.id()).get(0).payload();
            case "name" -> read.name();
            case "metadata value" -> read.metadata().get("k");
            default -> read.idempotencyKey().orElse(null);
          };
      if (!lone.equals(back)) {
        altered.add(
            input.getKey() + ": stored " + codePoints(lone) + ", read back " + codePoints(back));
      }
    }
    assertEquals(List.of(), altered, "unpaired surrogates neither refused nor kept");
  }

  // ------------------------------------------------------------------------------------------
  // refused: NUL and lengths

  @Test
  void nul_isRefusedWithAClearException_whereverItIsGiven_andNothingIsStored() throws SQLException {
    String nul = "before\u0000after";
    Map<String, Long> before = counts();

    BatchValidationException payload =
        assertThrows(
            BatchValidationException.class,
            () -> service.createBatch(BatchRequest.builder(ECHO).item("fine").item(nul).build()));
    assertEquals(
        List.of(
            new Violation(
                "items[1]",
                "a payload must not contain the NUL character (U+0000), found at index 6")),
        payload.violations());
    assertRefused(
        "name", "NUL", () -> BatchRequest.builder(ECHO).name(nul), IllegalArgumentException.class);
    assertRefused(
        "metadata key",
        "NUL",
        () -> BatchRequest.builder(ECHO).metadata(nul, "v"),
        IllegalArgumentException.class);
    assertRefused(
        "metadata[k]",
        "NUL",
        () -> BatchRequest.builder(ECHO).metadata("k", nul),
        IllegalArgumentException.class);
    assertRefused(
        "idempotencyKey",
        "NUL",
        () -> BatchRequest.builder(ECHO).idempotencyKey(nul),
        IllegalArgumentException.class);
    assertRefused(
        "jobType", "NUL", () -> BatchRequest.builder(nul), IllegalArgumentException.class);

    assertEquals(before, counts(), "row counts after the refusals");
    assertTablesIntact();
  }

  @Test
  void texts_atTheirLimitAreStoredVerbatim_overItAreRefusedWithTheLimit(TestReporter reporter)
      throws SQLException {
    String mix = hostileMix();
    String name = ofLength(mix, BatchRequest.MAX_NAME_LENGTH);
    String key = ofLength("K" + mix, BatchRequest.MAX_METADATA_KEY_LENGTH);
    String value = ofLength(mix, BatchRequest.MAX_METADATA_VALUE_LENGTH);
    String idempotencyKey = ofLength(mix, BatchRequest.MAX_IDEMPOTENCY_KEY_LENGTH);
    String longPayload = ofLength(mix, 100_000);
    // the largest payload: 1 MiB in UTF-8, made of four-byte characters
    String emoji = "\ud83d\ude00";
    String largest = emoji.repeat(1024 * 1024 / 4);
    assertEquals(1024 * 1024, largest.getBytes(StandardCharsets.UTF_8).length);

    Batch created =
        service.createBatch(
            BatchRequest.builder(ECHO)
                .name(name)
                .metadata(key, value)
                .idempotencyKey(idempotencyKey)
                .item(longPayload)
                .item(largest)
                .build());
    Batch read = service.getBatch(created.id());
    assertVerbatim(name, read.name(), "a name of the longest length");
    assertEquals(Map.of(key, value), read.metadata(), "metadata of the longest lengths");
    assertVerbatim(idempotencyKey, read.idempotencyKey().orElseThrow(), "longest idempotency key");
    List<Job> jobs = Stores.allJobs(store, created.id());
    assertVerbatim(longPayload, jobs.get(0).payload(), "a 100,000-char payload");
    assertVerbatim(largest, jobs.get(1).payload(), "a 1 MiB payload");

    Map<String, Long> before = counts();
    Map<String, Map.Entry<Integer, Function<String, Object>>> limits = new LinkedHashMap<>();
    limits.put("name", Map.entry(200, t -> BatchRequest.builder(ECHO).name(t)));
    limits.put("idempotencyKey", Map.entry(200, t -> BatchRequest.builder(ECHO).idempotencyKey(t)));
    limits.put("metadata[k]", Map.entry(1_000, t -> BatchRequest.builder(ECHO).metadata("k", t)));
    limits.put("metadata key", Map.entry(100, t -> BatchRequest.builder(ECHO).metadata(t, "v")));
    limits.put("jobType", Map.entry(100, BatchRequest::builder));
    for (Map.Entry<String, Map.Entry<Integer, Function<String, Object>>> field :
        limits.entrySet()) {
      int limit = field.getValue().getKey();
      for (int length : new int[] {limit + 1, 100_000}) {
        String text = ofLength("T" + mix, length);
        assertRefused(
            field.getKey() + " must be at most " + limit + " characters, was " + length,
            null,
            () -> field.getValue().getValue().apply(text),
            IllegalArgumentException.class);
      }
    }
    assertRefused(
        "name must not be blank",
        null,
        () -> BatchRequest.builder(ECHO).name(" \t\n "),
        IllegalArgumentException.class);
    BatchValidationException tooLarge =
        assertThrows(
            BatchValidationException.class,
            () -> service.createBatch(BatchRequest.builder(ECHO).item(largest + "a").build()));
    assertEquals(
        List.of(
            new Violation(
                "items[0]", "a payload may be at most 1048576 bytes in UTF-8, was 1048577")),
        tooLarge.violations());
    assertEquals(before, counts(), "row counts after the refusals");
    reporter.publishEntry(
        "stored at the limits",
        "name 200, metadata key 100 / value 1000, idempotency key 200 chars;"
            + " payloads of 100,000 chars and of 1 MiB");
  }

  // ------------------------------------------------------------------------------------------
  // case and spaces

  @Test
  void idempotencyKeys_thatDifferOnlyInCaseSpacesOrNormalisation_makeDistinctBatches()
      throws SQLException {
    List<String> keys =
        List.of(
            "Order-7",
            "order-7",
            "ORDER-7",
            "order-7 ",
            " order-7",
            "order-7  ",
            "order-7\t",
            "order-7\u00a0",
            "order-7\n",
            "caf\u00e9",
            "cafe\u0301",
            "stra\u00dfe",
            "strasse",
            "\u0130stanbul",
            "i\u0307stanbul",
            "%",
            "_",
            "order_7",
            "order%7");
    Map<String, BatchId> ids = new LinkedHashMap<>();
    for (String key : keys) {
      Batch batch =
          service.createBatch(BatchRequest.builder(ECHO).idempotencyKey(key).item(key).build());
      ids.put(key, batch.id());
    }
    assertEquals(
        keys.size(), Set.copyOf(ids.values()).size(), "one batch per key, however alike: " + ids);
    Map<String, Long> before = counts();
    for (String key : keys) {
      // the same request again finds its own batch; another request under the key is refused,
      // naming that batch: either way the key matched exactly
      Batch again =
          service.createBatch(BatchRequest.builder(ECHO).idempotencyKey(key).item(key).build());
      assertEquals(ids.get(key), again.id(), "key " + codePoints(key) + " found its own batch");
      IdempotencyConflictException conflict =
          assertThrows(
              IdempotencyConflictException.class,
              () ->
                  service.createBatch(
                      BatchRequest.builder(ECHO).idempotencyKey(key).item("other").build()));
      assertEquals(ids.get(key), conflict.existingBatchId(), "key " + codePoints(key));
      assertVerbatim(key, conflict.idempotencyKey(), "the key the conflict names");
      assertVerbatim(key, service.getBatch(again.id()).idempotencyKey().orElseThrow(), "key");
      assertVerbatim(key, Stores.allJobs(store, again.id()).get(0).payload(), "its first item");
    }
    assertEquals(before, counts(), "repeated keys created nothing");
  }

  @Test
  void metadata_thatDiffersOnlyInCaseOrSpaces_staysDistinct_andFiltersMatchExactly() {
    List<String> keys =
        List.of("Key", "key", "KEY", "key ", " key", "key\t", "k\u00e9y", "ke\u0301y");
    BatchRequest.Builder request = BatchRequest.builder(ECHO).item("x");
    for (int i = 0; i < keys.size(); i++) {
      request.metadata(keys.get(i), "value of " + i);
    }
    Batch many = service.createBatch(request.build());
    Map<String, String> read = service.getBatch(many.id()).metadata();
    assertEquals(keys.size(), read.size(), "distinct keys: " + read.keySet());
    for (int i = 0; i < keys.size(); i++) {
      assertVerbatim("value of " + i, read.get(keys.get(i)), "value of key " + keys.get(i));
    }

    List<String> values = List.of("Red", "red", "RED", "red ", " red", "%", "_", "r%", "r_d", "");
    Map<String, BatchId> byValue = new LinkedHashMap<>();
    for (String value : values) {
      byValue.put(
          value,
          service
              .createBatch(BatchRequest.builder(ECHO).metadata("tag", value).item("x").build())
              .id());
    }
    for (String value : values) {
      List<BatchId> found =
          service.listBatches(BatchQuery.builder().metadata("tag", value).build()).items().stream()
              .map(Batch::id)
              .toList();
      assertEquals(List.of(byValue.get(value)), found, "batches tagged exactly '" + value + "'");
    }
    for (int i = 0; i < keys.size(); i++) {
      List<BatchId> found =
          service
              .listBatches(BatchQuery.builder().metadata(keys.get(i), "value of " + i).build())
              .items()
              .stream()
              .map(Batch::id)
              .toList();
      assertEquals(List.of(many.id()), found, "batches with key '" + keys.get(i) + "'");
    }
    assertEquals(
        List.of(),
        service.listBatches(BatchQuery.builder().jobType("ECHO").build()).items(),
        "job types match exactly");
  }

  // ------------------------------------------------------------------------------------------
  // table prefixes

  @Test
  void invalidTablePrefixes_areRefusedWithAClearException_andCreateNothing() throws Exception {
    String token = "hx" + UUID.randomUUID().toString().substring(0, 6);
    List<String> invalid =
        List.of(
            "",
            " ",
            "   ",
            token + "'_",
            token + "\"_",
            token + "`_",
            token + " _",
            " " + token,
            token + ";_",
            token + "; DROP TABLE " + prefix + "jobs; --",
            token + "-_",
            token + "._",
            token + "/*_",
            token + "\u00e9_",
            token + "\ud83d\ude00",
            token + "\n",
            token + "\u0000",
            "1" + token,
            "_" + token,
            token + "x".repeat(31 - token.length()));
    Set<String> tablesBefore = tables();
    Map<String, Long> before = counts();
    for (String bad : invalid) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () -> JdbcJobStore.builder(dataSource).createSchema(true).tablePrefix(bad).build(),
              "prefix '" + bad + "'");
      assertTrue(
          e.getMessage().startsWith("tablePrefix must "),
          "the message names the setting and the rule: " + e.getMessage());
    }
    assertThrows(
        NullPointerException.class, () -> JdbcJobStore.builder(dataSource).tablePrefix(null));

    Set<String> tablesAfter = tables();
    assertEquals(
        Set.of(),
        tablesAfter.stream()
            .filter(t -> t.contains(token) || isUnprefixed(t))
            .filter(t -> !tablesBefore.contains(t))
            .collect(Collectors.toSet()),
        "tables created for refused prefixes");
    assertEquals(before, counts(), "row counts after the refusals");

    // the longest valid prefix works
    String longest = token + "_" + "y".repeat(30 - token.length() - 2) + "_";
    assertEquals(30, longest.length());
    JdbcJobStore limit =
        JdbcJobStore.builder(dataSource).tablePrefix(longest).createSchema(true).build();
    try (BatchService onLimit =
        BatchService.builder()
            .store(limit)
            .discoverProcessors(false)
            .processor(ECHO, ctx -> ctx.payload())
            .pollInterval(Duration.ofMillis(20))
            .build()) {
      Batch batch = onLimit.submit(BatchRequest.builder(ECHO).item("at the limit").build());
      assertEquals(
          BatchStatus.COMPLETED,
          onLimit.awaitCompletion(batch.id(), Duration.ofMinutes(1)).status());
    } finally {
      TestDatabases.drop(dataSource, longest);
    }
  }

  private static boolean isUnprefixed(String table) {
    return Set.of("batches", "jobs", "batch_metadata", "batch_requests", "nodes")
        .contains(table.strip());
  }

  // ------------------------------------------------------------------------------------------
  // ids

  @Test
  void idsThatDoNotExist_orBelongToAnotherStore_giveBatchNotFound_andChangeNothing()
      throws SQLException {
    Batch mine =
        service.createBatch(
            BatchRequest.builder(ECHO).name("mine").items(List.of("a", "b")).build());
    Batch theirs =
        otherService.createBatch(
            BatchRequest.builder(ECHO).name("theirs").items(List.of("c", "d")).build());
    Batch theirsStarted =
        otherService.createBatch(
            BatchRequest.builder(ECHO).name("theirs, started").item("e").autoStart().build());
    Map<String, Long> before = counts();
    Batch mineBefore = store.findBatch(mine.id()).orElseThrow();
    Batch theirsBefore = otherStore.findBatch(theirs.id()).orElseThrow();
    List<Job> theirJobsBefore = Stores.allJobs(otherStore, theirs.id());

    List<BatchId> foreign =
        List.of(
            BatchId.random(),
            new BatchId(new UUID(0, 0)),
            new BatchId(new UUID(-1, -1)),
            theirs.id(),
            theirsStarted.id());
    for (BatchId id : foreign) {
      assertNotFound(id, () -> service.getBatch(id));
      assertNotFound(id, () -> service.getJobs(id, JobQuery.all()));
      assertNotFound(id, () -> service.getJobs(id, JobQuery.withStatus(JobStatus.QUEUED)));
      assertNotFound(id, () -> service.startBatch(id));
      assertNotFound(id, () -> service.cancelBatch(id));
      assertNotFound(id, () -> service.retryFailed(id));
      assertNotFound(id, () -> service.deleteBatch(id));
      assertNotFound(id, () -> service.completion(id));
      assertNotFound(id, () -> service.awaitCompletion(id, Duration.ofSeconds(1)));
    }
    assertThrows(IllegalArgumentException.class, () -> BatchId.parse("'; DROP TABLE x; --"));
    assertThrows(IllegalArgumentException.class, () -> BatchId.parse(mine.id() + "' OR '1'='1"));

    assertEquals(before, counts(), "row counts after the calls");
    assertEquals(mineBefore, store.findBatch(mine.id()).orElseThrow(), "this store's batch");
    assertEquals(theirsBefore, otherStore.findBatch(theirs.id()).orElseThrow(), "their batch");
    assertEquals(theirJobsBefore, Stores.allJobs(otherStore, theirs.id()), "their jobs");
    assertEquals(
        BatchStatus.PROCESSING,
        otherService.startBatch(theirs.id()).status(),
        "their batch can still be started by its own service");
  }

  private static void assertNotFound(BatchId id, Executable call) {
    BatchNotFoundException e = assertThrows(BatchNotFoundException.class, call, "batch " + id);
    assertEquals(id, e.batchId(), "the exception carries the id");
  }

  // ------------------------------------------------------------------------------------------
  // a failing database

  /**
   * "No payload goes in a message" (STYLE.md §5): when the database refuses a write, the {@link
   * JobStoreException} names the operation and the SQL state, but carries neither the job's payload
   * nor its result, which may be private and which the service logs at WARN. The test makes the
   * database refuse a job's result with a CHECK constraint and completes the job through the store.
   */
  @Test
  void databaseRefusingAWrite_givesAJobStoreExceptionWithoutThePayloadOrResult()
      throws SQLException {
    String secretPayload = "secret-payload-" + UUID.randomUUID();
    String secretResult = "secret-result-" + UUID.randomUUID();
    String constraint = prefix + "no_secret";
    execute(
        "ALTER TABLE "
            + prefix
            + "jobs ADD CONSTRAINT "
            + constraint
            + " CHECK (result IS NULL OR result NOT LIKE 'secret-result-%')");
    try {
      String unrun = "not run by any service";
      Batch batch = front.submit(BatchRequest.builder(unrun).item(secretPayload).build());
      Instant now = Instant.now();
      List<ClaimedJob> claimed =
          store.claim(
              new ClaimRequest(
                  "test", 1, now, now.plusSeconds(60), Duration.ofSeconds(30), Map.of(unrun, 1)));
      assertEquals(1, claimed.size());
      assertEquals(batch.id(), claimed.get(0).batchId());
      JobStoreException e =
          assertThrows(
              JobStoreException.class,
              () ->
                  store.complete(List.of(JobOutcome.succeeded(claimed.get(0), secretResult)), now));
      assertTrue(e.getMessage().contains("complete"), "names the operation: " + e.getMessage());
      assertFalse(e.getMessage().contains(secretResult), "the result is in: " + e.getMessage());
      assertFalse(e.getMessage().contains(secretPayload), "the payload is in: " + e.getMessage());
      assertFalse(e.toString().contains(secretResult), "the result is in: " + e);
    } finally {
      execute("ALTER TABLE " + prefix + "jobs DROP CONSTRAINT " + constraint);
    }
  }

  // ------------------------------------------------------------------------------------------
  // helpers

  /**
   * Asserts that {@code call} throws {@code type} with a message that contains {@code field} and,
   * if given, {@code detail}.
   */
  private static void assertRefused(
      String field, String detail, Executable call, Class<? extends RuntimeException> type) {
    RuntimeException e = assertThrows(type, call, field);
    assertTrue(e.getMessage().contains(field), "'" + e.getMessage() + "' names " + field);
    if (detail != null) {
      assertTrue(e.getMessage().contains(detail), "'" + e.getMessage() + "' says " + detail);
    }
  }

  static void assertVerbatim(String expected, String actual, String what) {
    if (!expected.equals(actual)) {
      fail(
          what
              + " changed: expected "
              + codePoints(expected)
              + " ("
              + expected.length()
              + " chars), read back "
              + (actual == null
                  ? "null"
                  : codePoints(actual) + " (" + actual.length() + " chars)"));
    }
  }

  /** The text as code points in hex, the first 40 of them. */
  static String codePoints(String s) {
    if (s == null) {
      return "null";
    }
    String shown =
        s.codePoints().limit(40).mapToObj(Integer::toHexString).collect(Collectors.joining(" "));
    return "[" + shown + (s.codePointCount(0, s.length()) > 40 ? " ..." : "") + "]";
  }

  /** Row counts of both stores' tables. */
  Map<String, Long> counts() throws SQLException {
    Map<String, Long> counts = new LinkedHashMap<>();
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      for (String p : List.of(prefix, otherPrefix)) {
        // not the registry of nodes: services that start register there, by design
        for (String table : List.of("batches", "jobs", "batch_metadata", "batch_requests")) {
          try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM " + p + table)) {
            rs.next();
            counts.put(p + table, rs.getLong(1));
          }
        }
      }
    }
    return counts;
  }

  /** Fails if an injected statement dropped a table of either store. */
  private void assertTablesIntact() {
    try {
      counts();
    } catch (SQLException e) {
      throw new AssertionError("a table of a store is gone", e);
    }
  }

  /** The names of every table in the database's current catalog, lower-cased. */
  Set<String> tables() throws SQLException {
    Set<String> names = new TreeSet<>();
    try (Connection c = dataSource.getConnection()) {
      DatabaseMetaData meta = c.getMetaData();
      try (ResultSet rs = meta.getTables(c.getCatalog(), null, "%", new String[] {"TABLE"})) {
        while (rs.next()) {
          names.add(rs.getString("TABLE_NAME").toLowerCase(Locale.ROOT));
        }
      }
    }
    return names;
  }

  void execute(String sql) throws SQLException {
    try (Connection c = dataSource.getConnection();
        Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  DataSource dataSource() {
    return dataSource;
  }
}
