package io.batchkit.jdbc;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.Batch;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import java.net.URI;
import java.time.Duration;
import java.util.List;

/**
 * The node of {@link WebhookIT} that finishes a batch and is killed before its notification is
 * delivered: builds a service with a webhook to the test's receiver on the database it is given,
 * submits a batch of two quick jobs, prints {@value #BATCH_LINE} and the batch id, and runs until
 * it is killed or its stdin closes.
 *
 * <p>Arguments: the JDBC URL, the table prefix, the webhook's address and the secret.
 */
public final class WebhookChild {
  static final String BATCH_LINE = "batch ";
  static final String JOB_TYPE = "webhook-echo";

  private WebhookChild() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      throw new IllegalArgumentException("usage: WebhookChild <jdbc url> <prefix> <url> <secret>");
    }
    HikariConfig config = new HikariConfig();
    config.setJdbcUrl(args[0]);
    config.setMaximumPoolSize(4);
    config.setPoolName("batchkit-webhook-child");
    try (HikariDataSource dataSource = new HikariDataSource(config);
        BatchService service =
            BatchService.builder()
                .store(JdbcJobStore.builder(dataSource).tablePrefix(args[1]).build())
                .discoverProcessors(false)
                .nodeId("webhook-child")
                .pollInterval(Duration.ofMillis(100))
                .processor(JOB_TYPE, ctx -> ctx.payload())
                .webhook(URI.create(args[2]))
                .webhookSecret(args[3])
                .build()) {
      Batch batch = service.submit(BatchRequest.builder(JOB_TYPE).items(List.of("a", "b")).build());
      System.out.println(BATCH_LINE + batch.id());
      System.out.flush();
      RestartChild.drain(System.in);
    }
  }
}
