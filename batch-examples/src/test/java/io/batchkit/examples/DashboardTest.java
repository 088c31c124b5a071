package io.batchkit.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.Batch;
import io.batchkit.BatchStatus;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(60)
class DashboardTest {
  @Test
  void dashboard_servesThePageAndTheApi_whileTheDemoBatchRuns() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    HttpClient http = HttpClient.newHttpClient();

    try (Dashboard dashboard = Dashboard.start(out, 0, 20, Duration.ofMillis(2))) {
      HttpResponse<String> page =
          http.send(
              HttpRequest.newBuilder(dashboard.web().uri()).build(),
              HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> api =
          http.send(
              HttpRequest.newBuilder(dashboard.web().uri().resolve("api/batches")).build(),
              HttpResponse.BodyHandlers.ofString());
      Batch done =
          dashboard.service().awaitCompletion(dashboard.demo().id(), Duration.ofSeconds(30));

      assertEquals(200, page.statusCode());
      assertTrue(page.body().contains("<title>batchkit</title>"), page.body());
      assertEquals(200, api.statusCode());
      assertTrue(api.body().contains(dashboard.demo().id().toString()), api.body());
      assertTrue(api.body().contains("waiting for its start button"), api.body());
      assertEquals(BatchStatus.PARTIAL, done.status());
      assertEquals(2, done.progress().failed());
    }
    String text = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(text.contains("Dashboard at http://127.0.0.1:"), text);
  }
}
