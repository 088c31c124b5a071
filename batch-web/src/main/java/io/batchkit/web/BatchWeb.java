package io.batchkit.web;

import com.sun.net.httpserver.HttpServer;
import io.batchkit.BatchService;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.DaemonThreadFactory;
import io.batchkit.web.internal.JdkExchange;
import io.batchkit.web.internal.Router;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The operator's surface of a {@link BatchService}: a REST API over HTTP, served by the JDK's own
 * {@code com.sun.net.httpserver}, so no servlet container is needed.
 *
 * <pre>{@code
 * try (BatchWeb web = BatchWeb.builder(service).port(8089).start()) {
 *   System.out.println("batches at " + web.uri() + "api/batches");
 *   ...
 * }
 * }</pre>
 *
 * <p>The API ({@code application/json} unless noted; paths below the base path):
 *
 * <ul>
 *   <li>{@code GET api/batches?status=&jobType=&meta.KEY=VALUE&offset=&limit=}: a page of batches,
 *       newest first: {@code {"items", "offset", "limit", "hasMore"}};
 *   <li>{@code POST api/batches}: creates a batch from {@code {"jobType", "items", "name",
 *       "metadata", "priority", "maxConcurrency", "maxAttempts", "jobTimeoutMs", "idempotencyKey",
 *       "autoStart"}}; answers {@code 201} with it;
 *   <li>{@code GET api/batches/{id}}, {@code DELETE api/batches/{id}} ({@code 204});
 *   <li>{@code POST api/batches/{id}/start}, {@code .../retry-failed} (the batch) and {@code
 *       .../cancel} (what the cancellation did);
 *   <li>{@code POST api/batches/{id}/items} with {@code {"items": [...]}}: adds jobs to a batch
 *       that has not started ({@link BatchService#addItems}); answers with the batch;
 *   <li>{@code GET api/batches/{id}/jobs?status=&offset=&limit=}: a page of jobs in the batch's
 *       order; {@code GET api/batches/{id}/events}: what happened to it, oldest first; {@code GET
 *       api/batches/{id}/performance}: its throughput and job durations ({@link
 *       BatchService#getBatchPerformance});
 *   <li>{@code GET api/jobs/{id}/history}: a job's ended attempts, oldest first ({@link
 *       BatchService#getJobHistory}); {@code POST api/jobs/{id}/retry}: queues one failed job again
 *       ({@link BatchService#retryJob}) and answers with its batch;
 *   <li>{@code GET api/batches/{id}/results}: every job as JSON Lines ({@code
 *       application/x-ndjson}); {@code .../results.zip}: {@code batch.json}, {@code results.jsonl}
 *       and {@code failed.jsonl}. Both stream from the store a page at a time, in bounded memory;
 *   <li>{@code GET api/statistics} and {@code GET api/nodes};
 *   <li>for workers outside the service ({@link BatchService#poll}): {@code POST
 *       api/workers/{jobType}/poll} with {@code {"max", "leaseSeconds", "waitSeconds"}} (defaults
 *       1, 60 and 0) answers {@code {"jobs": [{"id", "batchId", "jobType", "payload", "attempt",
 *       "token", "leaseExpiry"}...]}}, waiting up to {@code waitSeconds} for work (payloads are
 *       always shown here: the worker needs them); {@code POST api/leases/{token}/complete} with
 *       {@code {"result"}}, {@code .../fail} with {@code {"error", "retryable"}} and {@code
 *       .../release} (gives the job back unstarted) answer {@code {"recorded": true}}; {@code
 *       .../extend} with {@code {"seconds"}} answers {@code {"state": "HELD"}}, or {@code
 *       "CANCELLED"} when the batch was cancelled and the worker should stop. A lease no longer
 *       held answers {@code 409}. The job type in the path is percent-encoded (servlet containers
 *       refuse an encoded slash in a path by default). At most 32 long polls wait at once (16 per
 *       {@link Builder#handler()} on a host application's server), each on a thread of its own; a
 *       poll beyond them answers at once, so a worker that got nothing should pause before it polls
 *       again. A client's read timeout must be longer than its {@code waitSeconds}: an answer that
 *       the server finds it cannot send gives its jobs back, but one sent into a connection the
 *       client already dropped leaves them leased until the lease runs out.
 * </ul>
 *
 * <p>Errors are JSON, {@code {"error": "...", "violations": [{"field", "message"}]}}: {@code 400}
 * for bad input (the Java API's checks and messages), {@code 401} without the token, {@code 403}
 * for a change to a read-only server, {@code 404} for an unknown batch, job or route, {@code 405}
 * for a wrong method, {@code 409} for a batch in the wrong state or a lease no longer held, {@code
 * 415} for a change not sent as JSON. No stack trace goes into a response.
 *
 * <p>Security: the server listens on {@code 127.0.0.1} unless told otherwise, and warns when it
 * listens elsewhere without a token. Every change needs {@code POST} or {@code DELETE} with {@code
 * Content-Type: application/json}, which a plain cross-site form cannot send.
 *
 * <p>{@link #close()} stops the server and its threads; it does not close the service. A host
 * application with its own HTTP server mounts the same routes with {@link Builder#handler()}.
 */
public final class BatchWeb implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(BatchWeb.class);

  /** The port used when none is given. */
  public static final int DEFAULT_PORT = 8089;

  /**
   * How many workers' long polls may wait at once on a host application's server ({@link
   * Builder#handler()}), each holding one of its threads; more answer at once.
   */
  private static final int HANDLER_WAITING_POLLS = 16;

  /**
   * How many workers' long polls may wait at once on this server; its pool has a thread for each
   * besides those that answer everything else, so waiting workers never slow the dashboard.
   */
  private static final int WAITING_POLLS = 32;

  /** How long {@link #close()} lets requests in flight finish. */
  private static final int CLOSE_DELAY_SECONDS = 1;

  private final HttpServer server;
  private final ExecutorService threads;
  private final URI uri;

  private BatchWeb(HttpServer server, ExecutorService threads, URI uri) {
    this.server = server;
    this.threads = threads;
    this.uri = uri;
  }

  /**
   * Starts configuring a server for {@code service}.
   *
   * @throws NullPointerException if {@code service} is null
   */
  public static Builder builder(BatchService service) {
    return new Builder(Checks.notNull(service, "service"));
  }

  /** The server's address, with the base path: for example {@code http://127.0.0.1:8089/}. */
  public URI uri() {
    return uri;
  }

  /** Stops the server, letting requests in flight finish for up to a second. Idempotent. */
  @Override
  public void close() {
    server.stop(CLOSE_DELAY_SECONDS);
    threads.shutdownNow();
    try {
      threads.awaitTermination(CLOSE_DELAY_SECONDS, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Configures a {@link BatchWeb}; each setter checks its value at once. */
  public static final class Builder {
    private final BatchService service;
    private int port = DEFAULT_PORT;
    private String bindAddress = "127.0.0.1";
    private String basePath = "/";
    private String authToken;
    private boolean readOnly;
    private boolean showPayloads = true;
    private int threads = 8;

    private Builder(BatchService service) {
      this.service = service;
    }

    /**
     * The port to listen on (default {@value BatchWeb#DEFAULT_PORT}); 0 picks a free one, which
     * {@link BatchWeb#uri()} then gives.
     *
     * @throws IllegalArgumentException if it is not between 0 and 65535
     */
    public Builder port(int port) {
      this.port = Checks.between(port, 0, 65_535, "port");
      return this;
    }

    /**
     * The address to listen on (default {@code 127.0.0.1}, this machine only). Another address
     * without {@link #authToken} logs a warning when the server starts.
     *
     * @throws NullPointerException if {@code address} is null
     * @throws IllegalArgumentException if it is blank
     */
    public Builder bindAddress(String address) {
      this.bindAddress = Checks.notBlank(address, "bindAddress").strip();
      return this;
    }

    /**
     * The path the server answers under (default {@code /}): with {@code /batchkit}, the API is at
     * {@code /batchkit/api/...}.
     *
     * @throws NullPointerException if {@code path} is null
     * @throws IllegalArgumentException if it does not start with {@code /}, or holds anything but
     *     letters, digits and {@code - . _ ~ /}
     */
    public Builder basePath(String path) {
      Checks.notNull(path, "basePath");
      if (!path.matches("/[A-Za-z0-9\\-._~/]*") || path.contains("//")) {
        throw new IllegalArgumentException(
            "basePath must start with '/' and hold only letters, digits and - . _ ~ /");
      }
      this.basePath = path.endsWith("/") ? path : path + "/";
      return this;
    }

    /**
     * Requires {@code Authorization: Bearer <token>} on every request (default: none).
     *
     * @throws NullPointerException if {@code token} is null
     * @throws IllegalArgumentException if it is blank, or holds a space or a control character
     */
    public Builder authToken(String token) {
      Checks.notBlank(token, "authToken");
      if (!token.chars().allMatch(c -> c > ' ' && c < 0x7f)) {
        throw new IllegalArgumentException(
            "authToken must be printable ASCII without spaces, as a header carries it");
      }
      this.authToken = token;
      return this;
    }

    /** Refuses every change ({@code 403}) when true (default false). */
    public Builder readOnly(boolean readOnly) {
      this.readOnly = readOnly;
      return this;
    }

    /**
     * Whether payloads and results are shown (default true); false answers {@code null} for them
     * everywhere, exports included.
     */
    public Builder showPayloads(boolean show) {
      this.showPayloads = show;
      return this;
    }

    /**
     * Returns the routes as a handler for a host application's own server, with this builder's
     * token, read-only and payload settings; the port, address and base path are ignored.
     */
    public BatchWebHandler handler() {
      return new BatchWebHandler(
          new Router(service, authToken, readOnly, showPayloads, false, HANDLER_WAITING_POLLS));
    }

    /**
     * Starts the server.
     *
     * @throws UncheckedIOException if the address cannot be bound (for example, the port is taken)
     */
    public BatchWeb start() {
      InetAddress address;
      try {
        address = InetAddress.getByName(bindAddress);
      } catch (UnknownHostException e) {
        throw new UncheckedIOException("cannot resolve bindAddress '" + bindAddress + "'", e);
      }
      HttpServer server;
      try {
        server = HttpServer.create(new InetSocketAddress(address, port), 0);
      } catch (IOException e) {
        throw new UncheckedIOException(
            "cannot listen on " + bindAddress + ":" + port + ": " + e.getMessage(), e);
      }
      Router router =
          new Router(
              service,
              authToken,
              readOnly,
              showPayloads,
              address.isLoopbackAddress(),
              WAITING_POLLS);
      String base = basePath;
      server.createContext(
          base,
          exchange -> {
            // not closed when handle throws: the server then drops the connection, so a client
            // whose answer was cut short sees an error, never a complete-looking body
            router.handle(new JdkExchange(exchange, base));
            exchange.close();
          });
      ExecutorService pool =
          Executors.newFixedThreadPool(
              threads + WAITING_POLLS, new DaemonThreadFactory("batchkit-web"));
      server.setExecutor(pool);
      server.start();
      int bound = server.getAddress().getPort();
      String host = address.isAnyLocalAddress() ? "127.0.0.1" : address.getHostAddress();
      if (address instanceof Inet6Address && !address.isAnyLocalAddress()) {
        host = "[" + host + "]";
      }
      URI uri = URI.create("http://" + host + ":" + bound + base);
      if (!address.isLoopbackAddress() && authToken == null) {
        LOG.warn(
            "batchkit web listens on {} without an authToken: anyone who reaches this address can"
                + " read{} batches",
            bindAddress + ":" + bound,
            readOnly ? "" : " and change");
      }
      LOG.info("batchkit web at {}", uri);
      return new BatchWeb(server, pool, uri);
    }
  }
}
