package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.batchkit.testkit.Await;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

/**
 * {@link BatchListener#jobReleased}: an attempt given back at shutdown ends with it, and with no
 * other end; a job that never started is not announced at all.
 */
class JobReleasedTest {
  @Test
  void anAttemptGivenBackAtShutdown_endsWithJobReleased_only() {
    List<String> events = new CopyOnWriteArrayList<>();
    CountDownLatch never = new CountDownLatch(1);
    BatchListener listener =
        new BatchListener() {
          @Override
          public void jobStarted(JobContext job) {
            events.add("started " + job.payload());
          }

          @Override
          public void jobSucceeded(JobContext job, String result) {
            events.add("succeeded " + job.payload());
          }

          @Override
          public void jobFailed(JobContext job, Throwable error, boolean willRetry) {
            events.add("failed " + job.payload());
          }

          @Override
          public void jobCancelled(JobContext job) {
            events.add("cancelled " + job.payload());
          }

          @Override
          public void jobReleased(JobContext job) {
            events.add("released " + job.payload());
          }
        };
    BatchService service =
        BatchService.builder()
            .discoverProcessors(false)
            .maxConcurrency(1)
            .shutdownGracePeriod(Duration.ZERO)
            .listener(listener)
            .processor(
                "wait",
                ctx -> {
                  never.await(); // until the shutdown interrupts it
                  return "done";
                })
            .build();
    service.submit(BatchRequest.builder("wait").items(List.of("a", "b")).maxConcurrency(1).build());
    Await.until("the first job runs", () -> events.contains("started a"));

    service.close();

    assertEquals(List.of("started a", "released a"), events);
  }
}
