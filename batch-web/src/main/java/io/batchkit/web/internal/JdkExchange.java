package io.batchkit.web.internal;

import com.sun.net.httpserver.HttpExchange;
import io.batchkit.web.WebExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An {@link WebExchange} over the JDK's {@code com.sun.net.httpserver}. */
public final class JdkExchange implements WebExchange {
  private final HttpExchange exchange;
  private final String path;

  /**
   * @param basePath the path the API is mounted at, ending with {@code /}
   */
  public JdkExchange(HttpExchange exchange, String basePath) {
    this.exchange = exchange;
    String raw = exchange.getRequestURI().getRawPath();
    // the server matched the context on the decoded path: a path that reaches the base only once
    // decoded keeps its base here, and so matches no route
    this.path = raw.startsWith(basePath) ? "/" + raw.substring(basePath.length()) : "/" + raw;
  }

  @Override
  public String method() {
    return exchange.getRequestMethod().toUpperCase(java.util.Locale.ROOT);
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public Map<String, List<String>> query() {
    return parseQuery(exchange.getRequestURI().getRawQuery());
  }

  /** Splits a raw query string into decoded names and values; for every server's exchange. */
  public static Map<String, List<String>> parseQuery(String raw) {
    Map<String, List<String>> params = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) {
      return params;
    }
    for (String pair : raw.split("&")) {
      if (pair.isEmpty()) {
        continue;
      }
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq));
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1));
      params.computeIfAbsent(name, n -> new ArrayList<>()).add(value);
    }
    return params;
  }

  private static String decode(String text) {
    try {
      return URLDecoder.decode(text, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw ApiException.badField("query", "is not properly percent-encoded");
    }
  }

  @Override
  public String header(String name) {
    return exchange.getRequestHeaders().getFirst(name);
  }

  @Override
  public InputStream body() {
    return exchange.getRequestBody();
  }

  @Override
  public void sendHeaders(int status, String contentType, long length, Map<String, String> headers)
      throws IOException {
    if (contentType != null) {
      exchange.getResponseHeaders().set("Content-Type", contentType);
    }
    headers.forEach((name, value) -> exchange.getResponseHeaders().set(name, value));
    // the JDK server reads 0 as "streamed" and -1 as "no body"
    exchange.sendResponseHeaders(status, length == 0 ? -1 : length < 0 ? 0 : length);
  }

  @Override
  public boolean headersSent() {
    return exchange.getResponseCode() != -1;
  }

  @Override
  public OutputStream responseBody() {
    return exchange.getResponseBody();
  }
}
