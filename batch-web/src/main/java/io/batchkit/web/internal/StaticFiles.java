package io.batchkit.web.internal;

import io.batchkit.web.WebExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.Map;

/**
 * The dashboard's three files (HTML, CSS, JavaScript), read from the jar once: nothing is loaded
 * from another site, so the page works offline. They hold no data, so they are served without the
 * token; the page asks for it and sends it with each API call. A Content-Security-Policy lets the
 * page load and call only its own server.
 */
final class StaticFiles {
  private static final String ROOT = "/io/batchkit/web/static/";

  private static final Map<String, String> TYPES =
      Map.of(
          "index.html", "text/html; charset=utf-8",
          "app.css", "text/css; charset=utf-8",
          "app.js", "text/javascript; charset=utf-8");

  private static final Map<String, String> HEADERS =
      Map.of(
          "Cache-Control",
          "no-cache",
          "X-Content-Type-Options",
          "nosniff",
          "X-Frame-Options",
          "DENY",
          "Content-Security-Policy",
          "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'; form-action 'self'");

  private final Map<String, byte[]> files;

  StaticFiles() {
    this.files =
        Map.of(
            "index.html", read("index.html"),
            "app.css", read("app.css"),
            "app.js", read("app.js"));
  }

  private static byte[] read(String name) {
    try (InputStream in = StaticFiles.class.getResourceAsStream(ROOT + name)) {
      if (in == null) {
        throw new IllegalStateException("the jar lacks " + ROOT + name);
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The file a path names ("/" is the page), or null for none of them. */
  static String fileOf(String path) {
    String name = path.equals("/") ? "index.html" : path.substring(1);
    return TYPES.containsKey(name) ? name : null;
  }

  /** Sends {@code name}, one of the files {@link #fileOf} names; a HEAD gets the headers only. */
  void send(WebExchange ex, String name) throws IOException {
    byte[] bytes = files.get(name);
    boolean head = ex.method().equals("HEAD");
    ex.sendHeaders(200, TYPES.get(name), head ? 0 : bytes.length, HEADERS);
    try (OutputStream out = ex.responseBody()) {
      if (!head) {
        out.write(bytes);
      }
    }
  }
}
