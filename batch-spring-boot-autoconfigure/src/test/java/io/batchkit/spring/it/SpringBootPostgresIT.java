package io.batchkit.spring.it;

import static org.assertj.core.api.Assertions.assertThat;

import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.JobProcessor;
import io.batchkit.JobQuery;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.spi.JobProcessorProvider;
import io.batchkit.spi.JobStore;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.UUID;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.annotation.Bean;
import org.springframework.core.env.Environment;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * A Spring Boot application on PostgreSQL, as a user writes one: the starter's auto-configuration,
 * a processor bean, Actuator on a random port. A batch runs through the bean, and {@code
 * /actuator/health} shows the {@code batchkit} component UP with its node and counts.
 */
@ExtendWith(SpringBootPostgresIT.DropTablesLast.class) // first: its afterAll runs last
@SpringBootTest(
    classes = SpringBootPostgresIT.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "management.endpoint.health.show-details=always",
      "management.endpoints.web.exposure.include=health",
      "batchkit.node-id=spring-it",
      "batchkit.poll-interval=50ms",
      "batchkit.web.port=0"
    })
@DirtiesContext // closed after the class, before DropTablesLast drops what its service used
class SpringBootPostgresIT {
  private static final String URL =
      System.getProperty(
          "batchkit.test.postgres.url", "jdbc:postgresql://127.0.0.1:5432/test?user=root");
  private static final String PREFIX =
      "bkboot" + UUID.randomUUID().toString().substring(0, 6) + "_";

  @Autowired BatchService service;
  @Autowired JobStore store;
  @Autowired Environment environment;

  @BeforeAll
  static void databaseIsReachable() {
    try (Connection ignored = DriverManager.getConnection(URL)) {
      // reachable
    } catch (SQLException e) {
      String message = "PostgreSQL is not reachable at " + URL + ": " + e.getMessage();
      String ci = System.getenv("CI");
      if (ci != null && !ci.isBlank() && !ci.equalsIgnoreCase("false")) {
        throw new AssertionError("CI is set, so this is a failure, not a skip: " + message, e);
      }
      Assumptions.abort(message);
    }
  }

  @DynamicPropertySource
  static void database(DynamicPropertyRegistry registry) {
    registry.add("spring.datasource.url", () -> URL);
    registry.add("batchkit.jdbc.table-prefix", () -> PREFIX);
  }

  @Test
  void aBatchRunsThroughAProcessorBean_andHealthShowsBatchkit() throws Exception {
    assertThat(store).isInstanceOf(JdbcJobStore.class);

    Batch batch =
        service.submit(BatchRequest.builder("upper").items(List.of("a", "b", "c")).build());
    Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(30));

    assertThat(done.status()).isEqualTo(BatchStatus.COMPLETED);
    assertThat(service.getJobs(done.id(), JobQuery.all()).items())
        .extracting(job -> job.result().orElseThrow())
        .containsExactly("A", "B", "C");
    String port = environment.getProperty("local.server.port");
    HttpResponse<String> health =
        HttpClient.newHttpClient()
            .send(
                HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/actuator/health"))
                    .build(),
                HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).as(health.body()).isEqualTo(200);
    assertThat(health.body())
        .contains("\"batchkit\"")
        .contains("\"nodeId\":\"spring-it\"")
        .contains("\"queued\":0");
  }

  /** Drops the tables once the application context, and with it the service, has closed. */
  static final class DropTablesLast implements AfterAllCallback {
    @Override
    public void afterAll(ExtensionContext context) throws SQLException {
      try (Connection c = DriverManager.getConnection(URL);
          Statement s = c.createStatement()) {
        for (String table :
            List.of(
                "jobs",
                "batch_metadata",
                "batch_requests",
                "batches",
                "nodes",
                "slots",
                "rate_buckets",
                "batch_events",
                "job_attempts",
                "batch_webhooks",
                "webhook_deliveries",
                "fetched")) {
          s.execute("DROP TABLE IF EXISTS " + PREFIX + table);
        }
        s.execute("DROP SEQUENCE IF EXISTS " + PREFIX + "fencing_tokens");
      } catch (SQLException e) {
        // unreachable: nothing was created
      }
    }
  }

  /** The application: nothing but auto-configuration and one processor. */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  static class App {
    @Bean
    JobProcessorProvider upper() {
      return new JobProcessorProvider() {
        @Override
        public String jobType() {
          return "upper";
        }

        @Override
        public JobProcessor processor() {
          return ctx -> ctx.payload().toUpperCase(Locale.ROOT);
        }
      };
    }
  }
}
