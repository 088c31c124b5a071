package io.batchkit.web.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.List;
import java.util.Map;

/**
 * One HTTP request and its response, as the {@link Router} sees it, whatever server carries it: the
 * JDK's {@code HttpServer} here ({@link JdkExchange}), and any other a host application puts in
 * front. Paths are relative to the base path the API is mounted at.
 */
public interface Exchange {
  /** The method, upper case. */
  String method();

  /** The path below the base path, starting with {@code /}, not decoded. */
  String path();

  /** The query parameters, decoded, each with its values in order. */
  Map<String, List<String>> query();

  /** The first value of a request header (case-insensitive name), or null. */
  String header(String name);

  /** The request body. */
  InputStream body();

  /**
   * Sends the status line and headers; after it, {@link #responseBody} takes the body.
   *
   * @param contentType the body's media type, or null when there is no body
   * @param length the body's length in bytes, -1 when it is streamed, 0 when there is none
   */
  void sendHeaders(int status, String contentType, long length, Map<String, String> headers)
      throws IOException;

  /** Whether {@link #sendHeaders} was called: the answer has begun. */
  boolean headersSent();

  /** Where the body goes, after {@link #sendHeaders}. */
  OutputStream responseBody();
}
