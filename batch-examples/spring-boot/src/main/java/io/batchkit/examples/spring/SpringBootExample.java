package io.batchkit.examples.spring;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.JobProcessor;
import io.batchkit.spi.JobProcessorProvider;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.http.HttpStatus;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.server.ResponseStatusException;

/**
 * A Spring Boot application on batchkit's starter: one processor bean ({@code greet}, a few
 * milliseconds of work per name), and two endpoints, {@code POST /greetings?count=N} to submit a
 * batch and {@code GET /greetings/{id}} to read it. Actuator's {@code /actuator/health} shows the
 * {@code batchkit} component, {@code /actuator/metrics/batchkit.jobs.finished} the counts, and the
 * dashboard runs on port 8089.
 */
@SpringBootApplication
@RestController
public class SpringBootExample {
  private final BatchService batches;

  public SpringBootExample(BatchService batches) {
    this.batches = batches;
  }

  public static void main(String[] args) {
    SpringApplication.run(SpringBootExample.class, args);
  }

  /** The processor: the whole of the application's batch work. */
  @Bean
  JobProcessorProvider greet() {
    return new JobProcessorProvider() {
      @Override
      public String jobType() {
        return "greet";
      }

      @Override
      public JobProcessor processor() {
        return ctx -> {
          Thread.sleep(5); // the work
          return "Hello, " + ctx.payload().toUpperCase(Locale.ROOT);
        };
      }
    };
  }

  /** What the endpoints answer: a batch's id, status and counts. */
  record BatchView(String id, String status, long total, long succeeded, long failed) {
    static BatchView of(Batch b) {
      return new BatchView(
          b.id().toString(),
          b.status().name(),
          b.progress().total(),
          b.progress().succeeded(),
          b.progress().failed());
    }
  }

  /** Submits a batch of {@code count} names. */
  @PostMapping("/greetings")
  BatchView submit(@RequestParam(defaultValue = "100") int count) {
    if (count < 1 || count > 100_000) {
      throw new ResponseStatusException(HttpStatus.BAD_REQUEST, "count must be 1 to 100,000");
    }
    List<String> names = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      names.add("name-" + i);
    }
    return BatchView.of(
        batches.submit(
            BatchRequest.builder("greet")
                .name("greetings")
                .items(names)
                .maxConcurrency(4)
                .build()));
  }

  /** Reads a batch. */
  @GetMapping("/greetings/{id}")
  BatchView get(@PathVariable String id) {
    return BatchView.of(batches.getBatch(BatchId.parse(id)));
  }
}
