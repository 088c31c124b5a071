package io.batchkit.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.JobId;
import io.batchkit.spi.JobStore;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The REST API of {@link BatchWeb} against a real server on a free port, through {@link
 * HttpClient}: every route, every error code, the token, read-only mode and both exports. A store
 * joins by returning a fresh one from {@link #newStore()}.
 */
abstract class AbstractBatchWebTest {
  static final JsonMapper JSON = JsonMapper.builder().build();
  static final Duration AWAIT = Duration.ofSeconds(30);

  /** Jobs of this type return their payload upper-cased; a payload "fail..." fails. */
  static final String ECHO = "echo";

  /** Jobs of this type wait until {@link #release} opens, or they are cancelled. */
  static final String HOLD = "hold";

  final HttpClient http = HttpClient.newHttpClient();
  final CountDownLatch release = new CountDownLatch(1);
  BatchService service;
  BatchWeb web;

  /** A fresh, empty store; closed by the test's end if it needs it ({@link #closeStore}). */
  abstract JobStore newStore();

  void closeStore() {}

  @BeforeEach
  void start() {
    service =
        BatchService.builder()
            .store(newStore())
            .discoverProcessors(false)
            .maxConcurrency(4)
            .defaultMaxAttempts(1)
            .processor(
                ECHO,
                context -> {
                  if (context.payload().startsWith("fail")) {
                    throw new IllegalStateException("refused " + context.payload());
                  }
                  return context.payload().toUpperCase(java.util.Locale.ROOT);
                })
            .processor(
                HOLD,
                context -> {
                  context.reportProgress(0.25, "waiting for the test");
                  release.await();
                  return "held";
                })
            .build();
    web = BatchWeb.builder(service).port(0).start();
  }

  @AfterEach
  void stop() {
    release.countDown();
    if (web != null) {
      web.close();
    }
    if (service != null) {
      service.close();
    }
    closeStore();
  }

  // ------------------------------------------------------------------ batches

  @Test
  void createsAPendingBatch_andReadsIt() throws Exception {
    HttpResponse<String> created =
        post(
            "api/batches",
            """
            {"jobType": "echo", "items": ["a", "b", "c"], "name": "letters",
             "metadata": {"tenant": "acme"}, "priority": "HIGH", "maxConcurrency": 2,
             "maxAttempts": 2, "jobTimeoutMs": 60000, "idempotencyKey": "letters-1"}
            """);

    assertEquals(201, created.statusCode(), created.body());
    JsonNode batch = json(created);
    assertEquals("PENDING", batch.get("status").stringValue());
    assertEquals("letters", batch.get("name").stringValue());
    assertEquals("echo", batch.get("jobType").stringValue());
    assertEquals("HIGH", batch.get("priority").stringValue());
    assertEquals("acme", batch.get("metadata").get("tenant").stringValue());
    assertEquals(2, batch.get("maxConcurrency").intValue());
    assertEquals(3, batch.get("progress").get("total").intValue());
    assertEquals(3, batch.get("progress").get("queued").intValue());
    assertEquals(0.0, batch.get("progress").get("percentage").doubleValue());
    assertTrue(batch.get("startedAt").isNull());
    assertTrue(batch.get("completedAt").isNull());
    assertTrue(batch.has("estimatedSecondsRemaining"));
    assertNotNull(batch.get("createdAt").stringValue());

    HttpResponse<String> read = get("api/batches/" + batch.get("id").stringValue());
    assertEquals(200, read.statusCode());
    assertEquals(batch.get("id"), json(read).get("id"));
  }

  /** Waits until a job of the batch shows stored progress; returns it. */
  private JsonNode awaitProgress(BatchId id) throws Exception {
    long deadline = System.nanoTime() + AWAIT.toNanos();
    while (System.nanoTime() < deadline) {
      for (JsonNode job : json(get("api/batches/" + id + "/jobs")).get("items")) {
        if (!job.get("progress").isNull()) {
          return job.get("progress");
        }
      }
      Thread.sleep(50);
    }
    throw new AssertionError("no job of " + id + " showed its progress within " + AWAIT);
  }

  @Test
  void autoStart_runsTheBatch_andItsJobsAndResultsCanBeRead() throws Exception {
    BatchId id = createStarted(ECHO, "a", "fail-b", "c");
    Batch done = service.awaitCompletion(id, AWAIT);
    assertEquals(BatchStatus.PARTIAL, done.status());

    JsonNode batch = json(get("api/batches/" + id));
    assertEquals("PARTIAL", batch.get("status").stringValue());
    assertEquals(100.0, batch.get("progress").get("percentage").doubleValue());
    assertEquals(2, batch.get("progress").get("succeeded").intValue());
    assertEquals(1, batch.get("progress").get("failed").intValue());

    JsonNode all = json(get("api/batches/" + id + "/jobs"));
    assertEquals(3, all.get("items").size());
    assertFalse(all.get("hasMore").booleanValue());
    JsonNode first = all.get("items").get(0);
    assertEquals("a", first.get("payload").stringValue());
    assertEquals("A", first.get("result").stringValue());
    assertEquals("SUCCEEDED", first.get("status").stringValue());
    assertEquals(id.toString(), first.get("batchId").stringValue());
    assertEquals(1, first.get("attempt").intValue());
    assertFalse(first.get("startedAt").isNull());
    assertFalse(first.get("finishedAt").isNull());

    JsonNode failed = json(get("api/batches/" + id + "/jobs?status=FAILED"));
    assertEquals(1, failed.get("items").size());
    assertEquals("fail-b", failed.get("items").get(0).get("payload").stringValue());
    assertTrue(failed.get("items").get(0).get("error").stringValue().contains("refused"));

    JsonNode events = json(get("api/batches/" + id + "/events")).get("items");
    assertEquals(3, events.size(), events.toString());
    assertEquals("CREATED", events.get(0).get("type").stringValue());
    assertEquals("STARTED", events.get(1).get("type").stringValue());
    assertEquals("FINISHED", events.get(2).get("type").stringValue());
    assertTrue(events.get(2).get("detail").stringValue().startsWith("PARTIAL"));
    assertFalse(events.get(2).get("at").isNull());

    JsonNode performance = json(get("api/batches/" + id + "/performance"));
    assertEquals(3, performance.get("ended").intValue());
    assertEquals(3, performance.get("sampled").intValue());
    assertTrue(performance.get("p50Ms").doubleValue() <= performance.get("p99Ms").doubleValue());
    assertTrue(performance.get("throughputPerSecond").doubleValue() > 0, performance.toString());

    String failedId = failed.get("items").get(0).get("id").stringValue();
    JsonNode history = json(get("api/jobs/" + failedId + "/history")).get("items");
    assertEquals(1, history.size(), history.toString());
    assertEquals("FAILED", history.get(0).get("outcome").stringValue());
    assertEquals(1, history.get(0).get("attempt").intValue());
    assertEquals(service.nodeId(), history.get(0).get("nodeId").stringValue());
    assertTrue(history.get(0).get("error").stringValue().contains("refused"));
    assertFalse(history.get(0).get("startedAt").isNull());
    assertFalse(history.get(0).get("endedAt").isNull());
    HttpResponse<String> retried = post("api/jobs/" + failedId + "/retry", "");
    assertEquals(200, retried.statusCode(), retried.body());
    assertEquals("PROCESSING", json(retried).get("status").stringValue());
    assertEquals(BatchStatus.PARTIAL, service.awaitCompletion(id, AWAIT).status(), "fails again");
    assertEquals(
        409, post("api/jobs/" + first.get("id").stringValue() + "/retry", "").statusCode());
    assertEquals(2, json(get("api/jobs/" + failedId + "/history")).get("items").size());

    JsonNode page = json(get("api/batches/" + id + "/jobs?offset=1&limit=1"));
    assertEquals(1, page.get("items").size());
    assertEquals("fail-b", page.get("items").get(0).get("payload").stringValue());
    assertTrue(page.get("hasMore").booleanValue());
    assertEquals(1, page.get("offset").intValue());
    assertEquals(1, page.get("limit").intValue());
  }

  @Test
  void listsJobsAcrossBatches_theDeadLetterView() throws Exception {
    Instant before = Instant.now().minusSeconds(1);
    BatchId acme = create(ECHO, Map.of("tenant", "acme"), "fail-1", "ok");
    BatchId globex = create(ECHO, Map.of("tenant", "globex"), "fail-2");
    service.startBatch(acme);
    service.startBatch(globex);
    service.awaitCompletion(acme, AWAIT);
    service.awaitCompletion(globex, AWAIT);
    String window = "&finishedAfter=" + before + "&finishedBefore=" + Instant.now().plusSeconds(1);

    JsonNode acmeFailed = json(get("api/jobs?status=FAILED&meta.tenant=acme" + window));
    assertEquals(1, acmeFailed.get("items").size(), acmeFailed.toString());
    assertEquals("fail-1", acmeFailed.get("items").get(0).get("payload").stringValue());
    assertEquals(acme.toString(), acmeFailed.get("items").get(0).get("batchId").stringValue());
    assertEquals(2, json(get("api/jobs?status=FAILED&jobType=" + ECHO)).get("items").size());
    assertEquals(
        0, json(get("api/jobs?status=FAILED&finishedBefore=" + before)).get("items").size());
    assertEquals(400, get("api/jobs?finishedAfter=yesterday").statusCode());
    assertEquals(
        400,
        get("api/jobs?finishedAfter=" + Instant.now() + "&finishedBefore=" + before).statusCode());
    assertEquals(405, post("api/jobs", "{}").statusCode());
  }

  @Test
  void listsBatches_filteredByStatusJobTypeAndMetadata_andPaged() throws Exception {
    BatchId pending = create(ECHO, Map.of("tenant", "acme"), "x");
    BatchId other = create(ECHO, Map.of("tenant", "globex"), "y");
    BatchId started = createStarted(ECHO, "z");
    service.awaitCompletion(started, AWAIT);

    assertEquals(
        List.of(other.toString(), pending.toString()),
        ids(json(get("api/batches?status=PENDING"))));
    assertEquals(List.of(pending.toString()), ids(json(get("api/batches?meta.tenant=acme"))));
    assertEquals(
        List.of(started.toString()), ids(json(get("api/batches?status=completed&jobType=echo"))));
    assertEquals(List.of(), ids(json(get("api/batches?jobType=hold"))));
    JsonNode firstPage = json(get("api/batches?limit=2"));
    assertEquals(2, firstPage.get("items").size());
    assertTrue(firstPage.get("hasMore").booleanValue());
    JsonNode lastPage = json(get("api/batches?offset=2&limit=2"));
    assertEquals(1, lastPage.get("items").size());
    assertFalse(lastPage.get("hasMore").booleanValue());
  }

  @Test
  void startsRetriesCancelsAndDeletes() throws Exception {
    BatchId id = create(ECHO, Map.of(), "fail-1");
    HttpResponse<String> started = post("api/batches/" + id + "/start", "");
    assertEquals(200, started.statusCode(), started.body());
    assertEquals(BatchStatus.FAILED, service.awaitCompletion(id, AWAIT).status());

    HttpResponse<String> retried = post("api/batches/" + id + "/retry-failed", "{}");
    assertEquals(200, retried.statusCode(), retried.body());
    assertEquals("PROCESSING", json(retried).get("status").stringValue());
    service.awaitCompletion(id, AWAIT);

    BatchId held = createStarted(HOLD, "1", "2");
    JsonNode progress = awaitProgress(held);
    assertEquals(0.25, progress.get("fraction").doubleValue());
    assertEquals("waiting for the test", progress.get("message").stringValue());
    assertFalse(progress.get("reportedAt").isNull());
    HttpResponse<String> cancelled = post("api/batches/" + held + "/cancel", "");
    assertEquals(200, cancelled.statusCode(), cancelled.body());
    JsonNode summary = json(cancelled);
    assertEquals(held.toString(), summary.get("batchId").stringValue());
    assertEquals(
        2,
        summary.get("cancelledQueued").intValue()
            + summary.get("stoppingRunning").intValue()
            + summary.get("alreadyFinished").intValue());
    assertEquals(BatchStatus.CANCELLED, service.awaitCompletion(held, AWAIT).status());

    HttpResponse<String> deleted = send("DELETE", "api/batches/" + held, null, true);
    assertEquals(204, deleted.statusCode(), deleted.body());
    assertEquals("", deleted.body());
    assertEquals(404, get("api/batches/" + held).statusCode());
  }

  @Test
  void itemsAreAddedToAPendingBatch_andRefusedOnceItStarted() throws Exception {
    BatchId id = create(ECHO, Map.of(), "a");

    HttpResponse<String> added =
        post("api/batches/" + id + "/items", "{\"items\": [\"b\", \"c\"]}");

    assertEquals(200, added.statusCode(), added.body());
    assertEquals(3, json(added).get("progress").get("total").intValue());
    assertEquals(
        List.of("a", "b", "c"),
        lines(get("api/batches/" + id + "/results").body()).stream()
            .map(line -> line.get("payload").stringValue())
            .toList());
    assertEquals(400, post("api/batches/" + id + "/items", "{\"items\": []}").statusCode());
    HttpResponse<String> wrong = post("api/batches/" + id + "/items", "{\"items\": [1], \"x\": 2}");
    assertEquals(400, wrong.statusCode());
    assertEquals(List.of("x", "items[0]"), fields(json(wrong)));

    assertEquals(200, post("api/batches/" + id + "/start", "").statusCode());
    HttpResponse<String> late = post("api/batches/" + id + "/items", "{\"items\": [\"d\"]}");
    assertEquals(409, late.statusCode(), late.body());
    assertEquals(BatchStatus.COMPLETED, service.awaitCompletion(id, AWAIT).status());
    assertEquals(3, service.getBatch(id).progress().succeeded());
    assertEquals(
        404,
        post("api/batches/" + BatchId.random() + "/items", "{\"items\": [\"d\"]}").statusCode());
  }

  @Test
  void statisticsAndNodes() throws Exception {
    service.awaitCompletion(createStarted(ECHO, "a"), AWAIT);

    JsonNode stats = json(get("api/statistics"));
    assertEquals(1, stats.get("succeeded").intValue());
    assertTrue(stats.has("throughputPerSecond"));
    assertTrue(stats.has("p95Ms"));
    assertEquals(0, stats.get("store").get("queued").intValue(), stats.toString());
    assertTrue(stats.get("store").has("failureRateLastHour"), stats.toString());

    JsonNode nodes = json(get("api/nodes"));
    assertTrue(nodes.get("items").isArray());
    List<String> ids = new ArrayList<>();
    nodes.get("items").forEach(n -> ids.add(n.get("nodeId").stringValue()));
    assertTrue(ids.contains(service.nodeId()), ids.toString());
  }

  // ------------------------------------------------------------------ exports

  @Test
  void resultsStreamAsJsonLines_inTheBatchsOrder() throws Exception {
    List<String> items = new ArrayList<>();
    for (int i = 0; i < 2_500; i++) { // more than two pages of the export
      items.add(i % 1_000 == 7 ? "fail-" + i : "item-" + i);
    }
    BatchId id = createStarted(ECHO, items.toArray(String[]::new));
    service.awaitCompletion(id, AWAIT);

    HttpResponse<String> response = get("api/batches/" + id + "/results");

    assertEquals(200, response.statusCode());
    assertTrue(
        response
            .headers()
            .firstValue("Content-Type")
            .orElse("")
            .startsWith("application/x-ndjson"));
    List<JsonNode> lines = lines(response.body());
    assertEquals(items.size(), lines.size());
    for (int i = 0; i < items.size(); i++) {
      JsonNode line = lines.get(i);
      assertEquals(items.get(i), line.get("payload").stringValue());
      boolean fails = items.get(i).startsWith("fail");
      assertEquals(fails ? "FAILED" : "SUCCEEDED", line.get("status").stringValue());
      assertEquals(
          fails ? null : items.get(i).toUpperCase(java.util.Locale.ROOT), text(line, "result"));
      assertEquals(1, line.get("attempt").intValue());
      assertNotNull(line.get("id").stringValue());
    }
  }

  @Test
  void resultsZip_holdsTheBatchAllResultsAndTheFailedOnes() throws Exception {
    BatchId id = createStarted(ECHO, "a", "fail-b", "c", "fail-d");
    service.awaitCompletion(id, AWAIT);

    HttpResponse<byte[]> response =
        http.send(
            request("api/batches/" + id + "/results.zip").GET().build(),
            HttpResponse.BodyHandlers.ofByteArray());

    assertEquals(200, response.statusCode());
    assertEquals("application/zip", response.headers().firstValue("Content-Type").orElse(""));
    Map<String, String> entries = unzip(response.body());
    assertEquals(
        List.of("batch.json", "results.jsonl", "failed.jsonl"), List.copyOf(entries.keySet()));
    assertEquals(id.toString(), JSON.readTree(entries.get("batch.json")).get("id").stringValue());
    assertEquals(4, lines(entries.get("results.jsonl")).size());
    List<JsonNode> failed = lines(entries.get("failed.jsonl"));
    assertEquals(2, failed.size());
    assertEquals("fail-b", failed.get(0).get("payload").stringValue());
    assertEquals("fail-d", failed.get(1).get("payload").stringValue());
  }

  @Test
  void hiddenPayloads_areNullEverywhere() throws Exception {
    web.close();
    web = BatchWeb.builder(service).port(0).showPayloads(false).start();
    BatchId id = createStarted(ECHO, "secret");
    service.awaitCompletion(id, AWAIT);

    JsonNode job = json(get("api/batches/" + id + "/jobs")).get("items").get(0);
    assertTrue(job.get("payload").isNull());
    assertTrue(job.get("result").isNull());
    String export = get("api/batches/" + id + "/results").body();
    assertFalse(export.contains("secret") || export.contains("SECRET"), export);
    assertTrue(lines(export).get(0).get("payload").isNull());
  }

  // ------------------------------------------------------------------ errors

  @Test
  void badInput_answers400_withEveryViolationUnderItsField() throws Exception {
    HttpResponse<String> notJson = post("api/batches", "{not json");
    assertEquals(400, notJson.statusCode());
    assertEquals(List.of("body"), fields(json(notJson)));

    HttpResponse<String> wrongTypes =
        post(
            "api/batches",
            """
            {"items": ["a", 3], "priority": "SOON", "maxConcurrency": "many",
             "metadata": {"k": 1}, "autoStart": "yes", "colour": "red"}
            """);
    assertEquals(400, wrongTypes.statusCode());
    assertEquals(
        List.of(
            "autoStart",
            "colour",
            "items[1]",
            "jobType",
            "maxConcurrency",
            "metadata.k",
            "priority"),
        fields(json(wrongTypes)).stream().sorted().toList());

    // the Java API's own checks and messages
    HttpResponse<String> refused =
        post("api/batches", "{\"jobType\": \"echo\", \"items\": [\"a\"], \"maxConcurrency\": 0}");
    assertEquals(400, refused.statusCode());
    JsonNode violation = json(refused).get("violations").get(0);
    assertEquals("maxConcurrency", violation.get("field").stringValue());
    assertTrue(violation.get("message").stringValue().contains("maxConcurrency"));

    HttpResponse<String> empty = post("api/batches", "{\"jobType\": \"echo\", \"items\": []}");
    assertEquals(400, empty.statusCode());
    assertEquals(List.of("items"), fields(json(empty)));

    HttpResponse<String> badQuery = get("api/batches?limit=0&status=DONE");
    assertEquals(400, badQuery.statusCode());
    HttpResponse<String> badId = get("api/batches/not-a-uuid");
    assertEquals(400, badId.statusCode());
    assertEquals(List.of("id"), fields(json(badId)));
  }

  @Test
  void unknownIds404_wrongStates409_wrongMethods405_unknownRoutes404() throws Exception {
    String unknown = "api/batches/" + BatchId.random();
    assertEquals(404, get(unknown).statusCode());
    assertEquals(404, get(unknown + "/jobs").statusCode());
    assertEquals(404, get(unknown + "/events").statusCode());
    assertEquals(404, get(unknown + "/performance").statusCode());
    assertEquals(404, get("api/jobs/" + JobId.random() + "/history").statusCode());
    assertEquals(404, get("api/jobs/" + JobId.random()).statusCode());
    assertEquals(400, get("api/jobs/not-a-uuid/history").statusCode());
    assertEquals(405, post("api/jobs/" + JobId.random() + "/history", "{}").statusCode());
    assertEquals(404, post("api/jobs/" + JobId.random() + "/retry", "").statusCode());
    assertEquals(405, get("api/jobs/" + JobId.random() + "/retry").statusCode());
    assertEquals(404, get(unknown + "/results").statusCode());
    assertEquals(404, post(unknown + "/start", "").statusCode());

    BatchId running = createStarted(HOLD, "1");
    HttpResponse<String> startAgain = post("api/batches/" + running + "/start", "");
    assertEquals(409, startAgain.statusCode());
    assertTrue(json(startAgain).get("error").stringValue().contains("PENDING"));
    assertEquals(409, send("DELETE", "api/batches/" + running, null, true).statusCode());
    assertEquals(409, post("api/batches/" + running + "/retry-failed", "").statusCode());

    assertEquals(405, get("api/batches/" + running + "/start").statusCode());
    assertEquals(404, get("api/elsewhere").statusCode());
    assertEquals(404, get("api/batches/" + running + "/elsewhere").statusCode());
    assertEquals(404, get("index.php").statusCode());
  }

  @Test
  void errors_carryNoStackTrace() throws Exception {
    for (HttpResponse<String> response :
        List.of(
            post("api/batches", "{bad"),
            get("api/batches/" + BatchId.random()),
            post("api/batches/" + BatchId.random() + "/cancel", ""))) {
      JsonNode body = json(response);
      assertEquals(List.of("error", "violations"), List.copyOf(body.propertyNames()));
      assertFalse(response.body().contains("at io.batchkit"), response.body());
      assertFalse(response.body().contains("Exception"), response.body());
    }
  }

  @Test
  void wrongMethods_sayWhichAreAllowed_andAClosedService503() throws Exception {
    HttpResponse<String> put = send("PUT", "api/batches", "{}", true);
    assertEquals(405, put.statusCode());
    assertEquals("GET, POST", put.headers().firstValue("Allow").orElse(""));
    BatchId id = create(ECHO, Map.of(), "a");

    service.close();

    HttpResponse<String> closed = post("api/batches/" + id + "/start", "");
    assertEquals(503, closed.statusCode(), closed.body());
  }

  /**
   * Without a token, a loopback server answers only requests addressed to a loopback name: a
   * rebound DNS name (an attacker's site pointed at 127.0.0.1) is refused.
   */
  @Test
  void withoutAToken_onlyLoopbackHostNamesAreAnswered() throws Exception {
    int port = web.uri().getPort();
    assertEquals(403, rawStatus(port, "evil.example:" + port));
    assertEquals(403, rawStatus(port, ""));
    assertEquals(200, rawStatus(port, "localhost:" + port));
    assertEquals(200, rawStatus(port, "127.0.0.1:" + port));
    assertEquals(200, rawStatus(port, "[::1]:" + port));
    assertEquals(200, rawStatus(port, "[0:0:0:0:0:0:0:1]:" + port));
    assertEquals(200, rawStatus(port, "127.0.0.2:" + port), "all of 127/8 is this machine");
    assertEquals(403, rawStatus(port, "localhost.evil.example:" + port));
    assertEquals(403, rawStatus(port, "10.0.0.1:" + port));

    web.close();
    web = BatchWeb.builder(service).port(0).authToken("t0ken").start();
    int withToken = web.uri().getPort();
    assertEquals(401, rawStatus(withToken, "evil.example"), "the token decides, whatever the host");
  }

  /**
   * Sends {@code GET /api/batches} with {@code Host: host} over a raw socket; returns the status.
   */
  private static int rawStatus(int port, String host) throws IOException {
    try (java.net.Socket socket = new java.net.Socket("127.0.0.1", port)) {
      socket.setSoTimeout((int) AWAIT.toMillis());
      String request =
          "GET /api/batches HTTP/1.1\r\n"
              + (host.isEmpty() ? "" : "Host: " + host + "\r\n")
              + "Connection: close\r\n\r\n";
      socket.getOutputStream().write(request.getBytes(StandardCharsets.US_ASCII));
      String status =
          new java.io.BufferedReader(
                  new java.io.InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII))
              .readLine();
      return Integer.parseInt(status.split(" ")[1]);
    }
  }

  @Test
  void changes_needAJsonContentType() throws Exception {
    BatchId id = create(ECHO, Map.of(), "a");
    HttpResponse<String> form =
        http.send(
            request("api/batches/" + id + "/start")
                .header("Content-Type", "application/x-www-form-urlencoded")
                .POST(HttpRequest.BodyPublishers.ofString("x=1"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(415, form.statusCode());
    assertEquals(415, send("DELETE", "api/batches/" + id, null, false).statusCode());
    assertEquals(BatchStatus.PENDING, service.getBatch(id).status());
  }

  @Test
  void aToken_isRequiredOnEveryRequest() throws Exception {
    web.close();
    web = BatchWeb.builder(service).port(0).authToken("s3cret-token").start();

    HttpResponse<String> none = get("api/batches");
    assertEquals(401, none.statusCode());
    assertEquals("Bearer", none.headers().firstValue("WWW-Authenticate").orElse(""));
    HttpResponse<String> wrong =
        http.send(
            request("api/batches").header("Authorization", "Bearer nope").GET().build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(401, wrong.statusCode());
    HttpResponse<String> right =
        http.send(
            request("api/batches").header("Authorization", "Bearer s3cret-token").GET().build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(200, right.statusCode());
    HttpResponse<String> create =
        http.send(
            request("api/batches")
                .header("Authorization", "bearer s3cret-token")
                .header("Content-Type", "application/json")
                .POST(
                    HttpRequest.BodyPublishers.ofString("{\"jobType\":\"echo\",\"items\":[\"a\"]}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(201, create.statusCode());
  }

  @Test
  void readOnly_refusesEveryChange_andStillReads() throws Exception {
    BatchId id = create(ECHO, Map.of(), "a");
    web.close();
    web = BatchWeb.builder(service).port(0).readOnly(true).start();

    assertEquals(403, post("api/batches", "{\"jobType\":\"echo\",\"items\":[\"a\"]}").statusCode());
    assertEquals(403, post("api/batches/" + id + "/start", "").statusCode());
    assertEquals(403, post("api/batches/" + id + "/cancel", "").statusCode());
    assertEquals(403, send("DELETE", "api/batches/" + id, null, true).statusCode());
    assertEquals(200, get("api/batches/" + id).statusCode());
    assertEquals(BatchStatus.PENDING, service.getBatch(id).status());
    assertEquals(1, service.listBatches(io.batchkit.BatchQuery.all()).items().size());
  }

  @Test
  void aBasePath_holdsTheApi() throws Exception {
    web.close();
    web = BatchWeb.builder(service).port(0).basePath("/ops/batchkit").start();

    assertTrue(web.uri().toString().endsWith("/ops/batchkit/"), web.uri().toString());
    assertEquals(200, get("api/batches").statusCode());
  }

  @Test
  void theBuilder_checksEachValue_andCloseStopsTheServer() throws Exception {
    BatchWeb.Builder builder = BatchWeb.builder(service);
    assertThrows(IllegalArgumentException.class, () -> builder.port(-1));
    assertThrows(IllegalArgumentException.class, () -> builder.port(65_536));
    assertThrows(IllegalArgumentException.class, () -> builder.basePath("batchkit"));
    assertThrows(IllegalArgumentException.class, () -> builder.basePath("/a b"));
    assertThrows(IllegalArgumentException.class, () -> builder.authToken(" "));
    assertThrows(IllegalArgumentException.class, () -> builder.authToken("two words"));
    assertThrows(IllegalArgumentException.class, () -> builder.bindAddress(""));
    assertThrows(NullPointerException.class, () -> BatchWeb.builder(null));
    assertTrue(web.uri().getPort() > 0, "port 0 picks a free port: " + web.uri());

    web.close();
    web.close(); // idempotent
    assertThrows(ConnectException.class, () -> get("api/batches"));
    web = null;
  }

  // ------------------------------------------------------------------ helpers

  BatchId create(String jobType, Map<String, String> metadata, String... items) throws Exception {
    Map<String, Object> body = new HashMap<>();
    body.put("jobType", jobType);
    body.put("items", List.of(items));
    body.put("metadata", metadata);
    HttpResponse<String> response = post("api/batches", JSON.writeValueAsString(body));
    assertEquals(201, response.statusCode(), response.body());
    return BatchId.parse(json(response).get("id").stringValue());
  }

  BatchId createStarted(String jobType, String... items) throws Exception {
    Map<String, Object> body =
        Map.of("jobType", jobType, "items", List.of(items), "autoStart", true);
    HttpResponse<String> response = post("api/batches", JSON.writeValueAsString(body));
    assertEquals(201, response.statusCode(), response.body());
    JsonNode batch = json(response);
    assertEquals("PROCESSING", batch.get("status").stringValue());
    return BatchId.parse(batch.get("id").stringValue());
  }

  HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(web.uri().resolve(path)).timeout(AWAIT);
  }

  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return http.send(request(path).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
    return send("POST", path, body, true);
  }

  HttpResponse<String> send(String method, String path, String body, boolean json)
      throws IOException, InterruptedException {
    HttpRequest.Builder builder = request(path);
    if (json) {
      builder.header("Content-Type", "application/json");
    }
    builder.method(
        method,
        body == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    return http.send(builder.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode json(HttpResponse<String> response) {
    assertEquals(
        "application/json",
        response.headers().firstValue("Content-Type").orElse(""),
        "content type of " + response.uri());
    return JSON.readTree(response.body());
  }

  static List<String> ids(JsonNode page) {
    List<String> ids = new ArrayList<>();
    page.get("items").forEach(b -> ids.add(b.get("id").stringValue()));
    return ids;
  }

  static List<String> fields(JsonNode error) {
    assertTrue(error.get("error").isString());
    List<String> fields = new ArrayList<>();
    error.get("violations").forEach(v -> fields.add(v.get("field").stringValue()));
    return fields;
  }

  static List<JsonNode> lines(String text) {
    List<JsonNode> lines = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (!line.isEmpty()) {
        lines.add(JSON.readTree(line));
      }
    }
    return lines;
  }

  static String text(JsonNode node, String field) {
    JsonNode value = node.get(field);
    return value == null || value.isNull() ? null : value.stringValue();
  }

  static Map<String, String> unzip(byte[] zip) throws IOException {
    Map<String, String> entries = new java.util.LinkedHashMap<>();
    try (ZipInputStream in = new ZipInputStream(new ByteArrayInputStream(zip))) {
      ZipEntry entry;
      while ((entry = in.getNextEntry()) != null) {
        entries.put(entry.getName(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
    }
    return entries;
  }
}
