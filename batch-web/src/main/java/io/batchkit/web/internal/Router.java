package io.batchkit.web.internal;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchNotFoundException;
import io.batchkit.BatchQuery;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.BatchValidationException;
import io.batchkit.IdempotencyConflictException;
import io.batchkit.JobId;
import io.batchkit.JobNotFoundException;
import io.batchkit.JobQuery;
import io.batchkit.JobStatus;
import io.batchkit.web.WebExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The REST API and the dashboard's page: finds the route of a request, applies the server's rules
 * (the token, read-only mode, JSON for changes), calls the {@link BatchService} and writes the
 * answer. Every failure becomes a JSON error with its status: {@code 400} for bad input (with the
 * same checks and messages as the Java API), {@code 404} for an unknown batch or route, {@code 409}
 * for a batch in the wrong state; anything else is logged here and answered {@code 500} with no
 * detail, so that no stack trace or server detail ever reaches a client.
 *
 * <p>Thread-safe: it holds only its settings; each request runs on the server's thread for it.
 */
public final class Router {
  private static final Logger LOG = LoggerFactory.getLogger(Router.class);

  private static final String JSON = "application/json";
  private static final String NDJSON = "application/x-ndjson";

  /** The largest request body read, in bytes: a batch of items arrives in one. */
  static final int MAX_BODY_BYTES = 64 * 1024 * 1024;

  private final BatchService service;
  private final byte[] token;
  private final boolean readOnly;
  private final boolean loopbackOnly;
  private final boolean showPayloads;
  private final Exports exports;
  private final PullRoutes pulls;
  private final StaticFiles page = new StaticFiles();

  /**
   * @param authToken the token every request must present as {@code Authorization: Bearer}, or null
   *     for none
   * @param loopback whether the server listens on a loopback address only: then, without a token,
   *     only requests to a loopback host name are answered
   * @param maxWaitingPolls how many long polls of workers may wait at once, each holding a thread
   */
  public Router(
      BatchService service,
      String authToken,
      boolean readOnly,
      boolean showPayloads,
      boolean loopback,
      int maxWaitingPolls) {
    this.service = service;
    this.token = authToken == null ? null : authToken.getBytes(StandardCharsets.UTF_8);
    this.readOnly = readOnly;
    this.loopbackOnly = loopback && authToken == null;
    this.showPayloads = showPayloads;
    this.exports = new Exports(service, showPayloads);
    this.pulls = new PullRoutes(service, maxWaitingPolls);
  }

  /** Answers one request; never throws for a request's fault. */
  public void handle(WebExchange exchange) throws IOException {
    try {
      route(exchange);
    } catch (ApiException e) {
      sendError(exchange, e.status, e.getMessage(), e.violations, e.headers);
    } catch (BatchValidationException e) {
      sendError(exchange, 400, "invalid batch request", e.violations(), Map.of());
    } catch (BatchNotFoundException | JobNotFoundException e) {
      sendError(exchange, 404, e.getMessage(), List.of(), Map.of());
    } catch (IdempotencyConflictException e) {
      sendError(exchange, 409, e.getMessage(), List.of(), Map.of());
    } catch (IllegalStateException e) {
      // the service's state rules ("cannot be started: it is PROCESSING"), or a closed service
      sendError(exchange, service.isClosed() ? 503 : 409, e.getMessage(), List.of(), Map.of());
    } catch (UnsupportedOperationException e) {
      sendError(exchange, 501, e.getMessage(), List.of(), Map.of()); // e.g. a store without a step
    } catch (IOException e) {
      throw e; // the client went away: nothing to answer
    } catch (RuntimeException e) {
      // input is checked before it reaches the service, so anything else is the server's fault;
      // its message may name stored data, so it stays in the log
      LOG.warn("{} {} failed", exchange.method(), loggable(exchange.path()), e);
      sendError(
          exchange, 500, "internal error; the server's log has the details", List.of(), Map.of());
    }
  }

  /**
   * Answers with an error, unless the answer has begun (an export that failed half-way): then the
   * stream is cut short, and the client sees a truncated body, never a false end.
   */
  private static void sendError(
      WebExchange ex,
      int status,
      String message,
      List<BatchValidationException.Violation> violations,
      Map<String, String> extra)
      throws IOException {
    if (ex.headersSent()) {
      LOG.warn(
          "{} {} failed after its answer began: {}", ex.method(), loggable(ex.path()), message);
      throw new IOException("answer cut short: " + message);
    }
    Map<String, String> headers = new HashMap<>(extra);
    if (status == 401) {
      headers.put("WWW-Authenticate", "Bearer");
    }
    byte[] bytes = Json.MAPPER.writeValueAsBytes(Json.error(message, violations));
    headers.put("X-Content-Type-Options", "nosniff");
    ex.sendHeaders(status, JSON, bytes.length, headers);
    try (OutputStream out = ex.responseBody()) {
      out.write(bytes);
    }
  }

  private void route(WebExchange ex) throws IOException {
    String file = StaticFiles.fileOf(ex.path());
    if (file != null) {
      only(ex, true, ex.method(), "GET", "HEAD");
      page.send(ex, file);
      return;
    }
    checkToken(ex);
    checkHost(ex);
    String[] parts = segments(ex.path());
    if (parts.length < 2 || !parts[0].equals("api")) {
      throw new ApiException(404, "no such page: " + QueryParams.clip(ex.path()));
    }
    String method = ex.method();
    switch (parts[1]) {
      case "batches" -> batches(ex, method, parts);
      case "jobs" -> jobs(ex, method, parts);
      case "workers" -> {
        // POST /api/workers/{jobType}/poll
        only(ex, parts.length == 4 && parts[3].equals("poll"), method, "POST");
        ObjectNode answer = pulls.poll(parts[2], readJson(ex));
        try {
          sendJson(ex, 200, answer);
        } catch (IOException e) {
          pulls.giveBack(answer); // the worker went away: its jobs go back unstarted
          throw e;
        }
      }
      case "leases" -> {
        // POST /api/leases/{token}/complete, /fail, /release, /extend
        only(ex, parts.length == 4, method, "POST");
        JsonNode body = readJson(ex);
        sendJson(ex, 200, pulls.report(parts[2], parts[3], body));
      }
      case "statistics" -> {
        only(ex, parts.length == 2, method, "GET");
        sendJson(ex, 200, Json.statistics(service.statistics()));
      }
      case "nodes" -> {
        only(ex, parts.length == 2, method, "GET");
        sendJson(ex, 200, Json.nodes(service.nodes()));
      }
      default -> throw new ApiException(404, "no such route: " + QueryParams.clip(ex.path()));
    }
  }

  private void batches(WebExchange ex, String method, String[] parts) throws IOException {
    if (parts.length == 2) {
      if (method.equals("GET")) {
        sendJson(ex, 200, Json.page(service.listBatches(batchQuery(ex)), Json::batch));
      } else if (method.equals("POST")) {
        JsonNode body = readJson(ex);
        Batch created = service.createBatch(CreateRequest.parse(body));
        sendJson(ex, 201, Json.batch(created));
      } else {
        throw notAllowed(ex, "GET, POST");
      }
      return;
    }
    BatchId id = batchId(parts[2]);
    String action = parts.length == 3 ? "" : parts[3];
    if (parts.length > 4) {
      throw new ApiException(404, "no such route: " + QueryParams.clip(ex.path()));
    }
    switch (action) {
      case "" -> {
        if (method.equals("GET")) {
          sendJson(ex, 200, Json.batch(service.getBatch(id)));
        } else if (method.equals("DELETE")) {
          checkChange(ex);
          service.deleteBatch(id);
          ex.sendHeaders(204, null, 0, Map.of());
          ex.responseBody().close();
        } else {
          throw notAllowed(ex, "GET, DELETE");
        }
      }
      case "start" -> {
        change(ex, method);
        sendJson(ex, 200, Json.batch(service.startBatch(id)));
      }
      case "retry-failed" -> {
        change(ex, method);
        sendJson(ex, 200, Json.batch(service.retryFailed(id)));
      }
      case "items" -> {
        change(ex, method);
        List<String> items = CreateRequest.items(readJson(ex));
        sendJson(ex, 200, Json.batch(service.addItems(id, items)));
      }
      case "cancel" -> {
        change(ex, method);
        sendJson(ex, 200, Json.cancellation(service.cancelBatch(id)));
      }
      case "events" -> {
        only(ex, true, method, "GET");
        sendJson(ex, 200, Json.events(service.getBatchEvents(id)));
      }
      case "performance" -> {
        only(ex, true, method, "GET");
        sendJson(ex, 200, Json.performance(service.getBatchPerformance(id)));
      }
      case "jobs" -> {
        only(ex, true, method, "GET");
        QueryParams q = new QueryParams(ex.query());
        JobQuery query = new JobQuery(q.enums("status", JobStatus.class), q.offset(), q.limit());
        sendJson(
            ex, 200, Json.page(service.getJobs(id, query), job -> Json.job(job, showPayloads)));
      }
      case "results" -> {
        only(ex, true, method, "GET");
        service.getBatch(id); // 404 before the stream starts
        ex.sendHeaders(200, NDJSON + "; charset=utf-8", -1, Map.of());
        OutputStream out = ex.responseBody();
        exports.jsonLines(id, out);
        out.close(); // only a complete export ends the stream; a failure cuts it (see sendError)
      }
      case "results.zip" -> {
        only(ex, true, method, "GET");
        Batch batch = service.getBatch(id);
        ex.sendHeaders(
            200,
            "application/zip",
            -1,
            Map.of("Content-Disposition", "attachment; filename=\"batch-" + id + ".zip\""));
        OutputStream out = ex.responseBody();
        exports.zip(batch, out);
        out.close();
      }
      default -> throw new ApiException(404, "no such route: " + QueryParams.clip(ex.path()));
    }
  }

  private void jobs(WebExchange ex, String method, String[] parts) throws IOException {
    if (parts.length == 2) {
      only(ex, true, method, "GET");
      sendJson(
          ex, 200, Json.page(service.listJobs(jobQuery(ex)), job -> Json.job(job, showPayloads)));
      return;
    }
    String action = parts.length == 4 ? parts[3] : "";
    if (!action.equals("history") && !action.equals("retry")) {
      throw new ApiException(404, "no such route: " + QueryParams.clip(ex.path()));
    }
    JobId id;
    try {
      id = JobId.parse(parts[2]);
    } catch (IllegalArgumentException e) {
      throw ApiException.badField(
          "id", "must be a job id (a UUID), was '" + QueryParams.clip(parts[2]) + "'");
    }
    if (action.equals("history")) {
      only(ex, true, method, "GET");
      sendJson(ex, 200, Json.attempts(service.getJobHistory(id)));
    } else {
      change(ex, method);
      sendJson(ex, 200, Json.batch(service.retryJob(id)));
    }
  }

  private static BatchQuery batchQuery(WebExchange ex) {
    QueryParams q = new QueryParams(ex.query());
    BatchQuery.Builder query = BatchQuery.builder();
    var statuses = q.enums("status", BatchStatus.class);
    if (!statuses.isEmpty()) {
      query.status(statuses.toArray(BatchStatus[]::new));
    }
    String jobType = q.text("jobType");
    if (jobType != null) {
      query.jobType(jobType);
    }
    for (Map.Entry<String, String> meta : q.withPrefix("meta.")) {
      try {
        query.metadata(meta.getKey(), meta.getValue());
      } catch (IllegalArgumentException | NullPointerException e) {
        throw ApiException.badField("meta." + meta.getKey(), e.getMessage());
      }
    }
    return query.page(q.offset(), q.limit()).build();
  }

  /**
   * The query of {@code GET /api/jobs}: {@code status} (repeatable), {@code jobType}, {@code
   * meta.<key>=<value>}, {@code finishedAfter} and {@code finishedBefore} (ISO-8601), and the page.
   */
  private static JobQuery jobQuery(WebExchange ex) {
    QueryParams q = new QueryParams(ex.query());
    JobQuery query = new JobQuery(q.enums("status", JobStatus.class), q.offset(), q.limit());
    String jobType = q.text("jobType");
    if (jobType != null) {
      query = query.jobType(jobType);
    }
    for (Map.Entry<String, String> meta : q.withPrefix("meta.")) {
      query = query.metadata(meta.getKey(), meta.getValue());
    }
    Instant after = q.instant("finishedAfter");
    Instant before = q.instant("finishedBefore");
    try {
      if (after != null && before != null) {
        query = query.finishedBetween(after, before);
      } else if (after != null || before != null) {
        query =
            new JobQuery(
                query.statuses(),
                query.offset(),
                query.limit(),
                query.jobType(),
                query.metadata(),
                Optional.ofNullable(after),
                Optional.ofNullable(before));
      }
    } catch (IllegalArgumentException e) {
      throw ApiException.badField("finishedBefore", e.getMessage());
    }
    return query;
  }

  private static BatchId batchId(String text) {
    try {
      return BatchId.parse(text);
    } catch (IllegalArgumentException e) {
      throw ApiException.badField(
          "id", "must be a batch id (a UUID), was '" + QueryParams.clip(text) + "'");
    }
  }

  /** A change: POST only, allowed unless read-only, with a JSON body type. */
  private void change(WebExchange ex, String method) {
    if (!method.equals("POST")) {
      throw notAllowed(ex, "POST");
    }
    checkChange(ex);
  }

  /**
   * Refuses changes in read-only mode, and changes without a JSON content type: a plain HTML form
   * cannot send one, so another site's page cannot make a user's browser change anything.
   */
  private void checkChange(WebExchange ex) {
    if (readOnly) {
      throw new ApiException(403, "this server is read-only");
    }
    String type = ex.header("Content-Type");
    if (type == null || !type.toLowerCase(Locale.ROOT).strip().startsWith(JSON)) {
      throw new ApiException(415, "a change must be sent with Content-Type: " + JSON);
    }
  }

  private static void only(WebExchange ex, boolean exists, String method, String... allowed) {
    if (!exists) {
      throw new ApiException(404, "no such route: " + QueryParams.clip(ex.path()));
    }
    if (!List.of(allowed).contains(method)) {
      throw notAllowed(ex, String.join(", ", allowed));
    }
  }

  private static ApiException notAllowed(WebExchange ex, String allowed) {
    return new ApiException(405, ex.method() + " is not allowed here; use " + allowed)
        .withHeader("Allow", allowed);
  }

  /**
   * Without a token, on a loopback address, answers only requests addressed to this machine by a
   * loopback name: a page on another site whose name an attacker points at 127.0.0.1 (DNS
   * rebinding) sends its own name in {@code Host}, and is refused.
   */
  private void checkHost(WebExchange ex) {
    if (!loopbackOnly) {
      return;
    }
    String host = ex.header("Host");
    String name = host == null ? "" : host.strip().toLowerCase(Locale.ROOT);
    if (name.startsWith("[") && name.indexOf(']') > 0) {
      name = name.substring(1, name.indexOf(']')); // an IPv6 literal
    } else if (name.indexOf(':') >= 0) {
      name = name.substring(0, name.indexOf(':'));
    }
    if (!isLoopbackName(name)) {
      throw new ApiException(
          403, "this server answers only requests addressed to localhost or a loopback address");
    }
  }

  /** Whether {@code name} is {@code localhost} or a loopback IP literal (never looked up). */
  static boolean isLoopbackName(String name) {
    if (name.equals("localhost")) {
      return true;
    }
    boolean literal =
        name.matches("[0-9.]+") || (name.contains(":") && name.matches("[0-9a-f:.]+"));
    if (!literal) {
      return false; // a name: resolving it would ask the attacker's DNS
    }
    try {
      return InetAddress.getByName(name).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  private void checkToken(WebExchange ex) {
    if (token == null) {
      return;
    }
    String header = ex.header("Authorization");
    byte[] given =
        header != null && header.regionMatches(true, 0, "Bearer ", 0, 7)
            ? header.substring(7).strip().getBytes(StandardCharsets.UTF_8)
            : new byte[0];
    if (!MessageDigest.isEqual(given, token)) { // in constant time: no timing hint of the token
      throw new ApiException(401, "a valid 'Authorization: Bearer <token>' header is required");
    }
  }

  private JsonNode readJson(WebExchange ex) throws IOException {
    checkChange(ex);
    String length = ex.header("Content-Length");
    if (length != null
        && length.strip().matches("[0-9]{1,18}")
        && Long.parseLong(length.strip()) > MAX_BODY_BYTES) {
      throw new ApiException(413, "the body is over " + MAX_BODY_BYTES + " bytes");
    }
    byte[] bytes;
    try (InputStream in = ex.body()) {
      bytes = in.readNBytes(MAX_BODY_BYTES + 1);
    }
    if (bytes.length > MAX_BODY_BYTES) {
      throw new ApiException(413, "the body is over " + MAX_BODY_BYTES + " bytes");
    }
    try {
      return Json.MAPPER.readTree(bytes);
    } catch (JacksonException e) {
      throw ApiException.badField("body", "is not valid JSON");
    }
  }

  /**
   * Returns a path fit for the log: a lease token is a worker's key to its job, so it is replaced
   * by {@code {token}}.
   */
  static String loggable(String path) {
    int at = path.indexOf("api/leases/");
    if (at < 0) {
      return path;
    }
    int start = at + "api/leases/".length();
    int end = path.indexOf('/', start);
    return path.substring(0, start) + "{token}" + (end < 0 ? "" : path.substring(end));
  }

  private static String[] segments(String path) {
    String trimmed = path.startsWith("/") ? path.substring(1) : path;
    if (trimmed.endsWith("/")) {
      trimmed = trimmed.substring(0, trimmed.length() - 1);
    }
    return trimmed.isEmpty() ? new String[0] : trimmed.split("/", -1);
  }

  private static void sendJson(WebExchange ex, int status, JsonNode body) throws IOException {
    byte[] bytes = Json.MAPPER.writeValueAsBytes(body);
    ex.sendHeaders(
        status,
        JSON,
        bytes.length,
        Map.of("Cache-Control", "no-store", "X-Content-Type-Options", "nosniff"));
    try (OutputStream out = ex.responseBody()) {
      out.write(bytes);
    }
  }
}
