package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.testkit.Await;
import io.batchkit.testkit.TestServices;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Progress a processor reports, as the store keeps it ({@link Job#progress()}). */
@Timeout(60)
class JobProgressTest {
  private static final Duration WAIT = Duration.ofSeconds(30);
  private static final Instant AT = Instant.parse("2030-01-01T00:00:00Z");

  private final TestServices services = new TestServices();

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

  @Test
  void theLatestReportIsStored_whileTheJobRuns_andGoneOnceItEnds() {
    CountDownLatch done = services.gate();
    CountDownLatch reported = new CountDownLatch(1);
    List<Double> heard = new CopyOnWriteArrayList<>();
    BatchService service =
        services.start(
            BatchService.builder()
                .listener(
                    new BatchListener() {
                      @Override
                      public void jobProgress(JobContext job, double fraction, String message) {
                        heard.add(fraction);
                      }
                    })
                .processor(
                    "t",
                    ctx -> {
                      for (int i = 1; i <= 50; i++) {
                        ctx.reportProgress(i / 100.0, "step " + i);
                      }
                      reported.countDown();
                      done.await();
                      return "ok";
                    }));
    Batch batch = service.submit(BatchRequest.builder("t").item("x").build());

    Await.until(
        "the last report is stored",
        () ->
            service
                .getJobs(batch.id(), JobQuery.all())
                .items()
                .get(0)
                .progress()
                .filter(p -> p.fraction() == 0.5)
                .isPresent());
    JobProgress stored =
        service.getJobs(batch.id(), JobQuery.all()).items().get(0).progress().orElseThrow();
    assertEquals(Optional.of("step 50"), stored.message());
    assertEquals(50, heard.size(), "every report still reaches the listeners");

    done.countDown();
    service.awaitCompletion(batch.id(), WAIT);
    assertEquals(
        Optional.empty(), service.getJobs(batch.id(), JobQuery.all()).items().get(0).progress());
    assertEquals(0, reported.getCount());
  }

  @Test
  void aReportIsCheckedCutAndMadeStorable() {
    assertThrows(IllegalArgumentException.class, () -> new JobProgress(1.5, Optional.empty(), AT));
    assertThrows(
        IllegalArgumentException.class, () -> new JobProgress(Double.NaN, Optional.empty(), AT));
    assertThrows(NullPointerException.class, () -> new JobProgress(0.5, null, AT));
    assertThrows(NullPointerException.class, () -> new JobProgress(0.5, Optional.empty(), null));

    String longText = "x".repeat(JobProgress.MAX_MESSAGE_LENGTH - 1) + "\uD83D\uDE00tail";
    String cut = new JobProgress(0.5, Optional.of(longText), AT).message().orElseThrow();
    assertEquals(JobProgress.MAX_MESSAGE_LENGTH - 1, cut.length(), "not inside the emoji");
    assertEquals(
        Optional.of("a\uFFFDb\uFFFD"),
        new JobProgress(0, Optional.of("a\u0000b\uD800"), AT).message());
    assertTrue(new JobProgress(1, Optional.of("done"), AT).message().isPresent());
  }
}
