package io.batchkit.web.internal;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchPerformance;
import io.batchkit.BatchStatistics;
import io.batchkit.BatchValidationException;
import io.batchkit.CancellationSummary;
import io.batchkit.Job;
import io.batchkit.JobAttempt;
import io.batchkit.JobProgress;
import io.batchkit.Node;
import io.batchkit.Page;
import io.batchkit.Progress;
import io.batchkit.StoreStatistics;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * How the API's values look in JSON: the field names of the REST API, written out by hand from the
 * public records, so that a renamed Java accessor never renames a field users rely on. Times are
 * ISO-8601 strings in UTC; an absent value is {@code null}. Payloads and results are left out
 * (written as {@code null}) when the server hides them.
 */
final class Json {
  /** The one mapper: thread-safe, and never configured after it is built. */
  static final JsonMapper MAPPER = JsonMapper.builder().build();

  private Json() {}

  /** A batch, as {@code GET /api/batches/{id}} gives it. */
  static ObjectNode batch(Batch b) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("id", b.id().toString());
    n.put("name", b.name());
    n.put("jobType", b.jobType());
    n.put("status", b.status().name());
    n.put("priority", b.priority().name());
    ObjectNode metadata = n.putObject("metadata");
    b.metadata().forEach(metadata::put);
    n.set("progress", progress(b.progress()));
    n.put("maxConcurrency", b.maxConcurrency());
    n.put("maxAttempts", b.maxAttempts());
    n.put("jobTimeoutMs", b.jobTimeout().toMillis());
    putOptional(n, "idempotencyKey", b.idempotencyKey());
    putTime(n, "createdAt", Optional.of(b.createdAt()));
    putTime(n, "startedAt", b.startedAt());
    putTime(n, "updatedAt", Optional.of(b.updatedAt()));
    putTime(n, "completedAt", b.completedAt());
    Optional<Duration> left = b.estimatedTimeRemaining();
    if (left.isPresent()) {
      n.put("estimatedSecondsRemaining", (left.get().toMillis() + 999) / 1000);
    } else {
      n.putNull("estimatedSecondsRemaining");
    }
    return n;
  }

  /** A batch's counts, with its percentage finished. */
  static ObjectNode progress(Progress p) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("total", p.total());
    n.put("queued", p.queued());
    n.put("processing", p.processing());
    n.put("succeeded", p.succeeded());
    n.put("failed", p.failed());
    n.put("cancelled", p.cancelled());
    n.put("percentage", p.percentage());
    return n;
  }

  /** A job, as the jobs page lists it. */
  static ObjectNode job(Job j, boolean showPayloads) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("id", j.id().toString());
    n.put("batchId", j.batchId().toString());
    n.put("status", j.status().name());
    n.put("attempt", j.attempt());
    putPayloadAndResult(n, j, showPayloads);
    putOptional(n, "error", j.error());
    putTime(n, "startedAt", j.startedAt());
    putTime(n, "finishedAt", j.finishedAt());
    putOptional(n, "nodeId", j.nodeId());
    if (j.progress().isPresent()) {
      JobProgress p = j.progress().get();
      ObjectNode progress = n.putObject("progress").put("fraction", p.fraction());
      putOptional(progress, "message", p.message());
      progress.put("reportedAt", p.reportedAt().toString());
    } else {
      n.putNull("progress");
    }
    return n;
  }

  /** A job as one line of a results export. */
  static ObjectNode resultLine(Job j, boolean showPayloads) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("id", j.id().toString());
    n.put("status", j.status().name());
    n.put("attempt", j.attempt());
    putPayloadAndResult(n, j, showPayloads);
    putOptional(n, "error", j.error());
    return n;
  }

  private static void putPayloadAndResult(ObjectNode n, Job j, boolean showPayloads) {
    if (showPayloads) {
      n.put("payload", j.payload());
      putOptional(n, "result", j.result());
    } else {
      n.putNull("payload");
      n.putNull("result");
    }
  }

  /** A page of values: {@code {"items", "offset", "limit", "hasMore"}}. */
  static <T> ObjectNode page(Page<T> page, Function<T, JsonNode> item) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode items = n.putArray("items");
    page.items().forEach(value -> items.add(item.apply(value)));
    n.put("offset", page.offset());
    n.put("limit", page.limit());
    n.put("hasMore", page.hasMore());
    return n;
  }

  /** What happened to a batch: {@code {"items": [{"type", "at", "detail"}...]}}, oldest first. */
  static ObjectNode events(List<BatchEvent> events) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode items = n.putArray("items");
    for (BatchEvent e : events) {
      items
          .addObject()
          .put("type", e.type().name())
          .put("at", e.at().toString())
          .put("detail", e.detail());
    }
    return n;
  }

  /**
   * A job's ended attempts, oldest first: {@code {"items": [{"attempt", "nodeId", "startedAt",
   * "endedAt", "outcome", "error"}...]}}.
   */
  static ObjectNode attempts(List<JobAttempt> attempts) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode items = n.putArray("items");
    for (JobAttempt a : attempts) {
      ObjectNode item =
          items
              .addObject()
              .put("attempt", a.attempt())
              .put("nodeId", a.nodeId())
              .put("startedAt", a.startedAt().toString())
              .put("endedAt", a.endedAt().toString())
              .put("outcome", a.outcome().name());
      putOptional(item, "error", a.error());
    }
    return n;
  }

  /**
   * How fast a batch runs: {@code {"batchId", "ended", "runningSeconds", "throughputPerSecond",
   * "sampled", "p50Ms", "p95Ms", "p99Ms"}}.
   */
  static ObjectNode performance(BatchPerformance p) {
    return MAPPER
        .createObjectNode()
        .put("batchId", p.batchId().toString())
        .put("ended", p.ended())
        .put("runningSeconds", p.running().toNanos() / 1e9)
        .put("throughputPerSecond", p.throughputPerSecond())
        .put("sampled", p.sampled())
        .put("p50Ms", p.p50().toNanos() / 1e6)
        .put("p95Ms", p.p95().toNanos() / 1e6)
        .put("p99Ms", p.p99().toNanos() / 1e6);
  }

  /** What a cancellation did. */
  static ObjectNode cancellation(CancellationSummary s) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("batchId", s.batchId().toString());
    n.put("cancelledQueued", s.cancelledQueued());
    n.put("stoppingRunning", s.stoppingRunning());
    n.put("alreadyFinished", s.alreadyFinished());
    return n;
  }

  /** The service's running figures. */
  static ObjectNode statistics(BatchStatistics s) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("succeeded", s.succeeded());
    n.put("failed", s.failed());
    n.put("throughputPerSecond", s.throughputPerSecond());
    n.put("p50Ms", s.p50().toNanos() / 1e6);
    n.put("p95Ms", s.p95().toNanos() / 1e6);
    n.put("p99Ms", s.p99().toNanos() / 1e6);
    n.put("running", s.running());
    n.put("queued", s.queued());
    ObjectNode breakers = n.putObject("circuitBreakers");
    s.circuitBreakers().forEach((type, state) -> breakers.put(type, state.name()));
    if (s.store().isPresent()) {
      StoreStatistics store = s.store().get();
      n.putObject("store")
          .put("queued", store.queued())
          .put("running", store.running())
          .put("succeededLastHour", store.succeededLastHour())
          .put("failedLastHour", store.failedLastHour())
          .put("failureRateLastHour", store.failureRateLastHour());
    } else {
      n.putNull("store");
    }
    return n;
  }

  /** One node sharing the store. */
  static ObjectNode node(Node node) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("nodeId", node.nodeId());
    n.put("host", node.host());
    n.put("version", node.version());
    n.put("status", node.status().name());
    n.put("slots", node.slots());
    n.put("running", node.running());
    putTime(n, "startedAt", Optional.of(node.startedAt()));
    putTime(n, "lastHeartbeat", Optional.of(node.lastHeartbeat()));
    putTime(n, "endedAt", node.endedAt());
    n.put("succeededLastHour", node.succeededLastHour());
    n.put("failedLastHour", node.failedLastHour());
    return n;
  }

  /** The nodes sharing the store: {@code {"items": [node...]}}. */
  static ObjectNode nodes(List<Node> nodes) {
    ObjectNode n = MAPPER.createObjectNode();
    ArrayNode items = n.putArray("items");
    nodes.forEach(node -> items.add(node(node)));
    return n;
  }

  /** An error: {@code {"error": message, "violations": [{"field", "message"}]}}. */
  static ObjectNode error(String message, List<BatchValidationException.Violation> problems) {
    ObjectNode n = MAPPER.createObjectNode();
    n.put("error", message);
    ArrayNode violations = n.putArray("violations");
    for (BatchValidationException.Violation v : problems) {
      violations.addObject().put("field", v.field()).put("message", v.message());
    }
    return n;
  }

  private static void putOptional(ObjectNode n, String field, Optional<String> value) {
    if (value.isPresent()) {
      n.put(field, value.get());
    } else {
      n.putNull(field);
    }
  }

  private static void putTime(ObjectNode n, String field, Optional<Instant> value) {
    if (value.isPresent()) {
      n.put(field, value.get().toString());
    } else {
      n.putNull(field);
    }
  }
}
