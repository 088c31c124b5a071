package io.batchkit.web.internal;

import io.batchkit.BatchException;
import io.batchkit.BatchService;
import io.batchkit.LeaseState;
import io.batchkit.LeasedJob;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * The pull API's requests, for workers outside the service: their JSON bodies read and checked, the
 * {@link BatchService} pull step called, the answer's JSON made. {@link Router} applies the
 * server's rules (token, read-only, JSON) before and writes the answer after.
 *
 * <ul>
 *   <li>{@code POST /api/workers/{jobType}/poll} with {@code {"max", "leaseSeconds",
 *       "waitSeconds"}} (defaults 1, 60, 0) answers {@code {"jobs": [{"id", "batchId", "jobType",
 *       "payload", "attempt", "token", "leaseExpiry"}...]}}. Payloads are always shown here: a
 *       worker needs them.
 *   <li>{@code POST /api/leases/{token}/complete} with {@code {"result"}}, {@code .../fail} with
 *       {@code {"error", "retryable"}} (retryable defaults to true) and {@code .../release} answer
 *       {@code {"recorded": true}}, or {@code 409} when the lease is no longer held.
 *   <li>{@code POST /api/leases/{token}/extend} with {@code {"seconds"}} answers {@code {"state":
 *       "HELD"|"CANCELLED"}} (the lease now runs {@code seconds} from now; on CANCELLED the worker
 *       should stop and report), or {@code 409} when the lease is no longer held.
 * </ul>
 *
 * <p>A long poll holds a server thread while it waits, so at most {@code maxWaitingPolls} wait at
 * once; a poll beyond them answers at once with what is due, so that workers never take every
 * thread from the dashboard and the rest of the API. A poll's answer that cannot be sent gives its
 * jobs back ({@link #giveBack}).
 *
 * <p>Thread-safe: its fields are set once; the semaphore is the only shared state.
 */
final class PullRoutes {
  private static final Logger LOG = LoggerFactory.getLogger(PullRoutes.class);
  private static final Set<String> POLL_FIELDS = Set.of("max", "leaseSeconds", "waitSeconds");

  private final BatchService service;
  private final Semaphore waitingPolls;

  PullRoutes(BatchService service, int maxWaitingPolls) {
    this.service = service;
    this.waitingPolls = new Semaphore(maxWaitingPolls);
  }

  /**
   * {@code POST /api/workers/{jobType}/poll}, with the job type as the path has it
   * (percent-encoded).
   */
  ObjectNode poll(String encodedJobType, JsonNode body) {
    String jobType = decode(encodedJobType);
    BodyFields f = new BodyFields(body, POLL_FIELDS, "a poll request", true);
    int max = f.integer("max", 1, 1, BatchService.MAX_POLL_JOBS);
    int lease =
        f.integer(
            "leaseSeconds",
            60,
            (int) BatchService.MIN_LEASE.toSeconds(),
            (int) BatchService.MAX_LEASE.toSeconds());
    int wait = f.integer("waitSeconds", 0, 0, (int) BatchService.MAX_POLL_WAIT.toSeconds());
    f.done();
    List<LeasedJob> jobs;
    try {
      if (wait > 0 && waitingPolls.tryAcquire()) {
        try {
          jobs = service.poll(jobType, max, Duration.ofSeconds(lease), Duration.ofSeconds(wait));
        } finally {
          waitingPolls.release();
        }
      } else {
        jobs = service.poll(jobType, max, Duration.ofSeconds(lease));
      }
    } catch (IllegalArgumentException e) {
      throw ApiException.badField("jobType", e.getMessage()); // the only argument not checked here
    } catch (BatchException e) {
      if (!Thread.interrupted()) {
        throw e;
      }
      // the server is stopping: the wait ends with nothing leased, and the interrupt, handled,
      // is not left to a pooled thread's next request
      jobs = List.of();
    }
    ObjectNode answer = Json.MAPPER.createObjectNode();
    ArrayNode array = answer.putArray("jobs");
    for (LeasedJob job : jobs) {
      ObjectNode n = array.addObject();
      n.put("id", job.id().toString());
      n.put("batchId", job.batchId().toString());
      n.put("jobType", job.jobType());
      n.put("payload", job.payload());
      n.put("attempt", job.attempt());
      n.put("token", job.token());
      n.put("leaseExpiry", job.leaseExpiry().toString());
    }
    return answer;
  }

  /**
   * Gives back, unstarted, the jobs of a poll's answer that could not be sent (the worker went
   * away), so that they neither wait for their lease to run out nor lose an attempt.
   */
  void giveBack(ObjectNode answer) {
    for (JsonNode job : answer.get("jobs")) {
      try {
        service.release(job.get("token").stringValue());
      } catch (RuntimeException e) {
        LOG.warn(
            "could not give back job {} of an unsent poll answer: {}", job.get("id"), e.toString());
      }
    }
  }

  /** {@code POST /api/leases/{token}/{action}}. */
  ObjectNode report(String token, String action, JsonNode body) {
    ObjectNode answer = Json.MAPPER.createObjectNode();
    switch (action) {
      case "release" -> {
        new BodyFields(body, Set.of(), "a release request", true).done();
        recorded(tokenChecked(() -> service.release(token)));
      }
      case "complete" -> {
        BodyFields f = new BodyFields(body, Set.of("result"), "a complete request", true);
        String result = f.text("result", false);
        f.done();
        recorded(tokenChecked(() -> service.complete(token, result)));
      }
      case "fail" -> {
        BodyFields f = new BodyFields(body, Set.of("error", "retryable"), "a fail request", true);
        String error = f.text("error", true);
        boolean retryable = f.bool("retryable", true);
        f.done();
        recorded(tokenChecked(() -> service.fail(token, error, retryable)));
      }
      case "extend" -> {
        BodyFields f = new BodyFields(body, Set.of("seconds"), "an extend request", true);
        int seconds =
            f.integer(
                "seconds",
                60,
                (int) BatchService.MIN_LEASE.toSeconds(),
                (int) BatchService.MAX_LEASE.toSeconds());
        f.done();
        LeaseState state = tokenChecked(() -> service.extend(token, Duration.ofSeconds(seconds)));
        if (state == LeaseState.LOST) {
          throw lost();
        }
        answer.put("state", state.name());
        return answer;
      }
      default ->
          throw new ApiException(
              404, "no such route: /api/leases/{token}/" + QueryParams.clip(action));
    }
    answer.put("recorded", true);
    return answer;
  }

  /** Percent-decodes a path segment as UTF-8 ({@code +} stays itself, as in a path). */
  private static String decode(String segment) {
    try {
      return URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw ApiException.badField("jobType", "is not a valid percent-encoded path segment");
    }
  }

  private static void recorded(boolean recorded) {
    if (!recorded) {
      throw lost();
    }
  }

  private static ApiException lost() {
    return new ApiException(
        409,
        "the lease is no longer held: it ran out and the job was given back, or the job was already"
            + " reported");
  }

  /** Runs a report, answering 400 for a malformed token or result. */
  private static <T> T tokenChecked(Supplier<T> step) {
    try {
      return step.get();
    } catch (IllegalArgumentException e) {
      // the service's messages start with the name of what they refuse: the token or the result
      String message = String.valueOf(e.getMessage());
      throw ApiException.badField(message.startsWith("result") ? "result" : "token", message);
    }
  }
}
