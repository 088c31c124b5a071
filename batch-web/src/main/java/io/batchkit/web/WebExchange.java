package io.batchkit.web;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;

/**
 * One HTTP request and its response, as {@link BatchWebHandler} sees it, whatever server carries
 * it: the JDK's {@code HttpServer} inside {@link BatchWeb}, or a host application's own server,
 * which implements this interface over its request and response. Paths are relative to the path the
 * routes are mounted at.
 */
public interface WebExchange {
  /** The method, upper case. */
  String method();

  /**
   * The path below the path the routes are mounted at, starting with {@code /}, not decoded: for
   * example {@code /api/batches} or {@code /} (the page).
   */
  String path();

  /** The query parameters, decoded, each with its values in order. */
  Map<String, List<String>> query();

  /** The first value of a request header (its name is case-insensitive), or null. */
  String header(String name);

  /** The request body. */
  InputStream body() throws IOException;

  /**
   * Sends the status line and headers; after it, {@link #responseBody} takes the body, which the
   * handler closes when the answer is complete.
   *
   * @param contentType the body's media type, or null when there is no body
   * @param length the body's length in bytes, -1 when it is streamed, 0 when there is none
   */
  void sendHeaders(int status, String contentType, long length, Map<String, String> headers)
      throws IOException;

  /** Whether {@link #sendHeaders} was called: the answer has begun. */
  boolean headersSent();

  /** Where the body goes, after {@link #sendHeaders}. */
  OutputStream responseBody() throws IOException;
}
