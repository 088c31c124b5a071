package io.batchkit.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.Job;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The pull API over HTTP: {@code POST api/workers/{jobType}/poll} and {@code POST
 * api/leases/{token}/complete|fail|extend}, with the long poll, the 409 of a lost lease and the
 * server's token and read-only rules.
 */
class PullApiTest {
  private static final JsonMapper JSON = JsonMapper.builder().build();
  private static final Duration AWAIT = Duration.ofSeconds(30);

  private final HttpClient http = HttpClient.newHttpClient();
  private BatchService service;
  private BatchWeb web;

  @BeforeEach
  void start() {
    service =
        BatchService.builder()
            .discoverProcessors(false)
            .allowUnknownJobTypes(true)
            .pollInterval(BatchService.MAX_POLL_WAIT) // a long poll ends sooner only by a signal
            .build();
    web = BatchWeb.builder(service).port(0).start();
  }

  @AfterEach
  void stop() {
    web.close();
    service.close();
  }

  private Batch gpu(String... items) {
    return service.submit(BatchRequest.builder("gpu").items(List.of(items)).maxAttempts(2).build());
  }

  @Test
  void poll_thenComplete_finishesTheBatch() throws Exception {
    Batch batch = gpu("a", "b");

    HttpResponse<String> polled =
        post("api/workers/gpu/poll", "{\"max\": 5, \"leaseSeconds\": 120}");

    assertEquals(200, polled.statusCode(), polled.body());
    JsonNode jobs = json(polled).get("jobs");
    assertEquals(2, jobs.size());
    for (JsonNode job : jobs) {
      assertEquals(batch.id().toString(), job.get("batchId").stringValue());
      assertEquals("gpu", job.get("jobType").stringValue());
      assertEquals(1, job.get("attempt").intValue());
      assertTrue(job.get("leaseExpiry").stringValue().endsWith("Z"));
      String token = job.get("token").stringValue();
      String result = "{\"result\": \"done " + job.get("payload").stringValue() + "\"}";
      HttpResponse<String> done = post("api/leases/" + token + "/complete", result);
      assertEquals(200, done.statusCode(), done.body());
      assertTrue(json(done).get("recorded").booleanValue());
      HttpResponse<String> again = post("api/leases/" + token + "/complete", result);
      assertEquals(409, again.statusCode(), "a second report finds the lease gone");
      assertTrue(json(again).get("error").stringValue().contains("no longer held"));
    }

    Batch finished = service.awaitCompletion(batch.id(), AWAIT);
    assertEquals(BatchStatus.COMPLETED, finished.status());
    for (Job job : service.getJobs(batch.id(), JobQuery.all()).items()) {
      assertEquals("done " + job.payload(), job.result().orElseThrow());
    }
  }

  @Test
  void poll_withoutABody_leasesOneJob() throws Exception {
    gpu("a", "b");

    HttpResponse<String> polled = post("api/workers/gpu/poll", "");

    assertEquals(200, polled.statusCode(), polled.body());
    assertEquals(1, json(polled).get("jobs").size());
  }

  @Test
  void aJobTypeThatNeedsEncoding_isPolledByItsEncodedName() throws Exception {
    Batch batch =
        service.submit(BatchRequest.builder("render video/4k+hdr é").items(List.of("a")).build());

    HttpResponse<String> polled =
        post("api/workers/" + "render%20video%2F4k+hdr%20%C3%A9" + "/poll", "{}");

    assertEquals(200, polled.statusCode(), polled.body());
    assertEquals(
        batch.id().toString(), json(polled).get("jobs").get(0).get("batchId").stringValue());
  }

  @Test
  void release_givesTheJobBack() throws Exception {
    Batch batch = gpu("a");
    String token = tokens(post("api/workers/gpu/poll", "{}")).get(0);

    HttpResponse<String> released = post("api/leases/" + token + "/release", "");

    assertEquals(200, released.statusCode(), released.body());
    assertEquals(1, service.getBatch(batch.id()).progress().count(JobStatus.QUEUED));
    assertEquals(409, post("api/leases/" + token + "/release", "").statusCode());
  }

  @Test
  void fail_notRetryable_failsTheJob_andRetryableQueuesItAgain() throws Exception {
    Batch batch = gpu("a", "b");
    List<String> tokens = tokens(post("api/workers/gpu/poll", "{\"max\": 2}"));

    HttpResponse<String> failed =
        post(
            "api/leases/" + tokens.get(0) + "/fail",
            "{\"error\": \"no GPU memory\", \"retryable\": false}");
    HttpResponse<String> retried =
        post("api/leases/" + tokens.get(1) + "/fail", "{\"error\": \"busy\"}");

    assertEquals(200, failed.statusCode(), failed.body());
    assertEquals(200, retried.statusCode(), retried.body());
    Batch now = service.getBatch(batch.id());
    assertEquals(1, now.progress().count(JobStatus.FAILED));
    assertEquals(1, now.progress().count(JobStatus.QUEUED), "retryable by default");
  }

  @Test
  void extend_saysHeld_thenCancelled_afterTheBatchIsCancelled() throws Exception {
    Batch batch = gpu("a");
    String token = tokens(post("api/workers/gpu/poll", "{}")).get(0);

    HttpResponse<String> held = post("api/leases/" + token + "/extend", "{\"seconds\": 300}");
    assertEquals(200, held.statusCode(), held.body());
    assertEquals("HELD", json(held).get("state").stringValue());

    service.cancelBatch(batch.id());

    HttpResponse<String> cancelled = post("api/leases/" + token + "/extend", "{}");
    assertEquals("CANCELLED", json(cancelled).get("state").stringValue());
    assertEquals(
        200, post("api/leases/" + token + "/fail", "{\"error\": \"stopped\"}").statusCode());
    assertEquals(BatchStatus.CANCELLED, service.awaitCompletion(batch.id(), AWAIT).status());
    assertEquals(409, post("api/leases/" + token + "/extend", "{}").statusCode());
  }

  @Test
  void longPoll_answersWhenWorkAppears() throws Exception {
    CompletableFuture<HttpResponse<String>> waiting =
        http.sendAsync(
            request("api/workers/gpu/poll")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"waitSeconds\": 30, \"max\": 3}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());

    gpu("a");

    HttpResponse<String> answer = waiting.get(AWAIT.toSeconds(), TimeUnit.SECONDS);
    assertEquals(200, answer.statusCode(), answer.body());
    assertEquals(1, json(answer).get("jobs").size());
  }

  @Test
  void badRequests_sayWhatIsWrong() throws Exception {
    HttpResponse<String> badNumbers =
        post("api/workers/gpu/poll", "{\"max\": 0, \"leaseSeconds\": \"60\", \"colour\": 1}");
    assertEquals(400, badNumbers.statusCode());
    assertEquals(List.of("colour", "max", "leaseSeconds"), fields(json(badNumbers)));

    HttpResponse<String> badToken = post("api/leases/not-a-token/complete", "{}");
    assertEquals(400, badToken.statusCode());
    assertEquals(List.of("token"), fields(json(badToken)));

    gpu("a");
    String token = tokens(post("api/workers/gpu/poll", "{}")).get(0);
    HttpResponse<String> badResult =
        post("api/leases/" + token + "/complete", "{\"result\": \"a\\u0000b\"}");
    assertEquals(400, badResult.statusCode(), badResult.body());
    assertEquals(List.of("result"), fields(json(badResult)));
    HttpResponse<String> noError = post("api/leases/" + token + "/fail", "{}");
    assertEquals(400, noError.statusCode());
    assertEquals(List.of("error"), fields(json(noError)));

    assertEquals(404, post("api/leases/" + token + "/finish", "{}").statusCode());
    assertEquals(404, post("api/workers/gpu/take", "{}").statusCode());
    HttpResponse<String> get =
        http.send(
            request("api/workers/gpu/poll").GET().build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(405, get.statusCode());
    assertEquals(200, post("api/leases/" + token + "/complete", "{}").statusCode());
  }

  @Test
  void readOnlyServers_refuseWorkers_andTokensAreRequired() throws Exception {
    gpu("a");
    web.close();
    web = BatchWeb.builder(service).port(0).readOnly(true).start();
    assertEquals(403, post("api/workers/gpu/poll", "{}").statusCode());

    web.close();
    web = BatchWeb.builder(service).port(0).authToken("worker-token-1").start();
    assertEquals(401, post("api/workers/gpu/poll", "{}").statusCode());
    HttpResponse<String> allowed =
        http.send(
            request("api/workers/gpu/poll")
                .header("Authorization", "Bearer worker-token-1")
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{}"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertEquals(200, allowed.statusCode(), allowed.body());
    assertEquals(1, json(allowed).get("jobs").size());
  }

  // ------------------------------------------------------------------ helpers

  private HttpRequest.Builder request(String path) {
    return HttpRequest.newBuilder(web.uri().resolve(path)).timeout(AWAIT);
  }

  private HttpResponse<String> post(String path, String body)
      throws IOException, InterruptedException {
    return http.send(
        request(path)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode json(HttpResponse<String> response) {
    return JSON.readTree(response.body());
  }

  private static List<String> tokens(HttpResponse<String> polled) {
    assertEquals(200, polled.statusCode(), polled.body());
    List<String> tokens = new ArrayList<>();
    json(polled).get("jobs").forEach(job -> tokens.add(job.get("token").stringValue()));
    return tokens;
  }

  private static List<String> fields(JsonNode error) {
    List<String> fields = new ArrayList<>();
    error.get("violations").forEach(v -> fields.add(v.get("field").stringValue()));
    return fields;
  }
}
