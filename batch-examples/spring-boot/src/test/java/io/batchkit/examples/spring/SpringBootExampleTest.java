package io.batchkit.examples.spring;

import static org.assertj.core.api.Assertions.assertThat;

import io.batchkit.Batch;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.core.env.Environment;

/**
 * The example as its README runs it, on an in-memory H2: a batch submitted over HTTP completes
 * through the processor bean, and Actuator shows the batchkit health and meters.
 */
@SpringBootTest(
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "spring.datasource.url=jdbc:h2:mem:spring-example;DB_CLOSE_DELAY=-1",
      "batchkit.web.port=0",
      "batchkit.poll-interval=20ms"
    })
class SpringBootExampleTest {
  @Autowired BatchService batches;
  @Autowired Environment environment;

  private final HttpClient http = HttpClient.newHttpClient();

  @Test
  void aBatchSubmittedOverHttp_completes_andActuatorShowsIt() throws Exception {
    String created = send("POST", "/greetings?count=20");
    String id = created.replaceAll("(?s).*\"id\":\"([^\"]+)\".*", "$1");

    Batch done = batches.awaitCompletion(io.batchkit.BatchId.parse(id), Duration.ofSeconds(30));

    assertThat(done.status()).isEqualTo(BatchStatus.COMPLETED);
    assertThat(done.progress().succeeded()).isEqualTo(20);
    assertThat(send("GET", "/actuator/health"))
        .contains("\"batchkit\"")
        .contains("\"nodeId\":\"" + batches.nodeId() + "\"");
    assertThat(send("GET", "/actuator/metrics/batchkit.jobs.finished")).contains("COUNT");
  }

  @Test
  void aBatchOfNoneOrTooMany_isRefused() throws Exception {
    for (String count : new String[] {"0", "100001"}) {
      HttpResponse<String> response =
          http.send(
              HttpRequest.newBuilder(
                      URI.create(
                          "http://127.0.0.1:"
                              + environment.getProperty("local.server.port")
                              + "/greetings?count="
                              + count))
                  .POST(HttpRequest.BodyPublishers.noBody())
                  .build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(response.statusCode()).as(count).isEqualTo(400);
    }
  }

  private String send(String method, String path) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + environment.getProperty("local.server.port") + path);
    HttpResponse<String> response =
        http.send(
            HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody()).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode())
        .as(method + " " + path + ": " + response.body())
        .isEqualTo(200);
    return response.body();
  }
}
