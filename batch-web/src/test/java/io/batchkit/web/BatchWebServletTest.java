package io.batchkit.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.spi.JobStore;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link BatchWebServlet} under a mapping, with the container's request and response mocked. */
class BatchWebServletTest {
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
  void answersTheApiBelowItsMapping_andReadsBodiesAndQueries() throws Exception {
    BatchWebServlet servlet = new BatchWebServlet(BatchWeb.builder(service).handler());
    BatchId pending = service.createBatch(BatchRequest.builder("echo").item("a").build()).id();

    Answer list = new Answer();
    servlet.service(
        request("GET", "/app/batchkit/api/batches", "status=PENDING&limit=5", null), list.response);
    assertEquals(200, list.status());
    assertTrue(list.text().contains(pending.toString()), list.text());
    assertTrue(list.text().contains("\"limit\":5"), list.text());
    verify(list.response).setContentType("application/json");

    Answer added = new Answer();
    servlet.service(
        request(
            "POST", "/app/batchkit/api/batches/" + pending + "/items", null, "{\"items\":[\"b\"]}"),
        added.response);
    assertEquals(200, added.status(), added.text());
    assertEquals(2, service.getBatch(pending).progress().total());

    Answer page = new Answer();
    servlet.service(request("GET", "/app/batchkit/", null, null), page.response);
    assertEquals(200, page.status());
    assertTrue(page.text().contains("<title>batchkit</title>"));

    Answer encoded = new Answer();
    servlet.service(request("GET", "/app/%62atchkit/api/batches", null, null), encoded.response);
    assertEquals(404, encoded.status(), "a path that reaches the mapping only once decoded");
  }

  private static HttpServletRequest request(String method, String uri, String query, String body)
      throws Exception {
    HttpServletRequest request = mock(HttpServletRequest.class);
    when(request.getMethod()).thenReturn(method);
    when(request.getRequestURI()).thenReturn(uri);
    when(request.getContextPath()).thenReturn("/app");
    when(request.getServletPath()).thenReturn("/batchkit");
    when(request.getQueryString()).thenReturn(query);
    when(request.getHeader("Content-Type")).thenReturn(body == null ? null : "application/json");
    ByteArrayInputStream bytes =
        new ByteArrayInputStream(
            body == null ? new byte[0] : body.getBytes(StandardCharsets.UTF_8));
    when(request.getInputStream())
        .thenReturn(
            new ServletInputStream() {
              @Override
              public int read() {
                return bytes.read();
              }

              @Override
              public boolean isFinished() {
                return bytes.available() == 0;
              }

              @Override
              public boolean isReady() {
                return true;
              }

              @Override
              public void setReadListener(ReadListener listener) {}
            });
    return request;
  }

  /** A mocked response whose status and body are kept. */
  private static final class Answer {
    final HttpServletResponse response = mock(HttpServletResponse.class);
    final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private int status = -1;

    Answer() throws Exception {
      org.mockito.Mockito.doAnswer(
              call -> {
                status = call.getArgument(0);
                return null;
              })
          .when(response)
          .setStatus(org.mockito.ArgumentMatchers.anyInt());
      when(response.getOutputStream())
          .thenReturn(
              new ServletOutputStream() {
                @Override
                public void write(int b) {
                  body.write(b);
                }

                @Override
                public boolean isReady() {
                  return true;
                }

                @Override
                public void setWriteListener(WriteListener listener) {}
              });
    }

    int status() {
      return status;
    }

    String text() {
      return body.toString(StandardCharsets.UTF_8);
    }
  }
}
