package io.batchkit.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.BatchId;
import io.batchkit.BatchService;
import io.batchkit.spi.JobStore;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

/** The routes mounted in a host's own server: {@link BatchWebHandler} over a plain exchange. */
class BatchWebHandlerTest {
  private final BatchService service =
      BatchService.builder()
          .store(JobStore.inMemory())
          .discoverProcessors(false)
          .processor("echo", context -> context.payload())
          .build();

  @AfterEach
  void close() {
    service.close();
  }

  @Test
  void servesTheApiAndThePage_throughAPlainExchange() throws Exception {
    BatchWebHandler handler = BatchWeb.builder(service).handler();

    Fake created =
        Fake.of("POST", "/api/batches", "{\"jobType\":\"echo\",\"items\":[\"a\"]}")
            .header("Content-Type", "application/json");
    handler.handle(created);
    assertEquals(201, created.status, created.text());
    BatchId id = BatchId.parse(created.json().get("id").stringValue());

    Fake read = Fake.of("GET", "/api/batches/" + id, null).header("Host", "intranet.example");
    handler.handle(read);
    assertEquals(200, read.status, "no loopback Host check: the host's server decides who comes");
    assertEquals("PENDING", read.json().get("status").stringValue());

    Fake page = Fake.of("GET", "/", null);
    handler.handle(page);
    assertEquals(200, page.status);
    assertTrue(page.headers.get("Content-Type").startsWith("text/html"));
    assertTrue(page.text().contains("<title>batchkit</title>"));

    Fake unknown = Fake.of("GET", "/api/batches/" + BatchId.random(), null);
    handler.handle(unknown);
    assertEquals(404, unknown.status);
    assertTrue(unknown.closed, "every answer is closed by the handler");
    assertThrows(NullPointerException.class, () -> handler.handle(null));
  }

  @Test
  void keepsTheBuildersTokenAndReadOnlyMode() throws Exception {
    BatchWebHandler handler = BatchWeb.builder(service).authToken("t0k").readOnly(true).handler();

    Fake none = Fake.of("GET", "/api/batches", null);
    handler.handle(none);
    assertEquals(401, none.status);
    Fake change =
        Fake.of("POST", "/api/batches", "{\"jobType\":\"echo\",\"items\":[\"a\"]}")
            .header("Content-Type", "application/json")
            .header("Authorization", "Bearer t0k");
    handler.handle(change);
    assertEquals(403, change.status);
    Fake read = Fake.of("GET", "/api/batches", null).header("Authorization", "Bearer t0k");
    handler.handle(read);
    assertEquals(200, read.status);
    assertFalse(read.json().get("hasMore").booleanValue());
  }

  /** A request and the answer it got, in memory. */
  private static final class Fake implements WebExchange {
    final String method;
    final String path;
    final Map<String, String> requestHeaders = new HashMap<>();
    final byte[] body;
    final Map<String, String> headers = new HashMap<>();
    final ByteArrayOutputStream out =
        new ByteArrayOutputStream() {
          @Override
          public void close() {
            closed = true;
          }
        };
    int status = -1;
    boolean closed;

    private Fake(String method, String path, String body) {
      this.method = method;
      this.path = path;
      this.body = body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8);
      requestHeaders.put("host", "localhost");
    }

    static Fake of(String method, String path, String body) {
      return new Fake(method, path, body);
    }

    Fake header(String name, String value) {
      requestHeaders.put(name.toLowerCase(Locale.ROOT), value);
      return this;
    }

    String text() {
      return out.toString(StandardCharsets.UTF_8);
    }

    JsonNode json() {
      return AbstractBatchWebTest.JSON.readTree(text());
    }

    @Override
    public String method() {
      return method;
    }

    @Override
    public String path() {
      return path;
    }

    @Override
    public Map<String, List<String>> query() {
      return Map.of();
    }

    @Override
    public String header(String name) {
      return requestHeaders.get(name.toLowerCase(Locale.ROOT));
    }

    @Override
    public InputStream body() {
      return new ByteArrayInputStream(body);
    }

    @Override
    public void sendHeaders(int status, String contentType, long length, Map<String, String> more) {
      this.status = status;
      if (contentType != null) {
        headers.put("Content-Type", contentType);
      }
      headers.putAll(more);
    }

    @Override
    public boolean headersSent() {
      return status != -1;
    }

    @Override
    public OutputStream responseBody() {
      return out;
    }
  }
}
