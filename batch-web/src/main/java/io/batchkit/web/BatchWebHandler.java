package io.batchkit.web;

import io.batchkit.web.internal.Router;
import java.io.IOException;

/**
 * The dashboard's and the REST API's routes as a plain request handler, for a host application that
 * has its own HTTP server: mount it at a path, and hand it each request below that path as a {@link
 * WebExchange}. {@link BatchWeb.Builder#handler()} makes one with the builder's settings (token,
 * read-only mode, payloads shown or hidden); the port, address and base path are the host server's
 * business, and so is who can reach it: protect it with {@code authToken} or the host's own
 * authentication, since the loopback {@code Host} check of {@link BatchWeb} does not apply.
 *
 * <p>Thread-safe: one handler serves every request, on the host server's threads.
 */
public final class BatchWebHandler {
  private final Router router;

  BatchWebHandler(Router router) {
    this.router = router;
  }

  /**
   * Answers one request. A request's fault (bad input, an unknown batch, a wrong method) is
   * answered with its JSON error and status; it never throws for one.
   *
   * @throws IOException if the client went away, or an export failed after its answer began: then
   *     the host server must drop the connection rather than end the answer normally, so that the
   *     client sees an error, not a complete-looking body
   * @throws NullPointerException if {@code exchange} is null
   */
  public void handle(WebExchange exchange) throws IOException {
    router.handle(java.util.Objects.requireNonNull(exchange, "exchange"));
  }
}
