package io.batchkit.web.internal;

import io.batchkit.web.WebExchange;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** A {@link WebExchange} over a Jakarta Servlet request and response. */
public final class ServletExchange implements WebExchange {
  private final HttpServletRequest request;
  private final HttpServletResponse response;
  private final String path;
  private boolean sent;

  public ServletExchange(HttpServletRequest request, HttpServletResponse response) {
    this.request = request;
    this.response = response;
    // the raw path below the servlet's mapping; one that reaches it only once decoded matches none
    String raw = request.getRequestURI();
    String mount = request.getContextPath() + request.getServletPath();
    String below = raw.startsWith(mount) ? raw.substring(mount.length()) : "/" + raw;
    this.path = below.isEmpty() ? "/" : below;
  }

  @Override
  public String method() {
    return request.getMethod().toUpperCase(Locale.ROOT);
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public Map<String, List<String>> query() {
    return JdkExchange.parseQuery(request.getQueryString());
  }

  @Override
  public String header(String name) {
    return request.getHeader(name);
  }

  @Override
  public InputStream body() throws IOException {
    return request.getInputStream();
  }

  @Override
  public void sendHeaders(
      int status, String contentType, long length, Map<String, String> headers) {
    sent = true;
    response.setStatus(status);
    if (contentType != null) {
      response.setContentType(contentType);
    }
    headers.forEach(response::setHeader);
    if (length >= 0) {
      response.setContentLengthLong(length);
    }
  }

  @Override
  public boolean headersSent() {
    return sent || response.isCommitted();
  }

  @Override
  public OutputStream responseBody() throws IOException {
    return response.getOutputStream();
  }
}
