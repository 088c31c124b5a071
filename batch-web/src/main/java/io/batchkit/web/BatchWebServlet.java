package io.batchkit.web;

import io.batchkit.web.internal.ServletExchange;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Objects;

/**
 * The dashboard and REST API as a Jakarta Servlet (6.x), for an application that runs in a servlet
 * container: register it under a mapping such as {@code /batchkit/*}, and the page is at {@code
 * /batchkit/} and the API at {@code /batchkit/api/...}. The container brings the servlet API;
 * batch-web needs it only for this class.
 *
 * <pre>{@code
 * ServletRegistration.Dynamic web =
 *     context.addServlet("batchkit", new BatchWebServlet(BatchWeb.builder(service).authToken(token).handler()));
 * web.addMapping("/batchkit/*");
 * }</pre>
 *
 * <p>An export that fails after its answer began throws from {@code service}, so that the container
 * cuts the response short rather than end it normally.
 */
public final class BatchWebServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;

  /** Not serialized: a container that restores sessions or servlets builds this one again. */
  private final transient BatchWebHandler handler;

  /**
   * @throws NullPointerException if {@code handler} is null
   */
  public BatchWebServlet(BatchWebHandler handler) {
    this.handler = Objects.requireNonNull(handler, "handler");
  }

  @Override
  protected void service(HttpServletRequest request, HttpServletResponse response)
      throws IOException {
    handler.handle(new ServletExchange(request, response));
  }
}
