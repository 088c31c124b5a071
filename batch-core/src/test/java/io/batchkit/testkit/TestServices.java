package io.batchkit.testkit;

import io.batchkit.BatchService;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * The services and gates one test opens. {@link #closeAll()}, called from {@code @AfterEach}, first
 * opens every gate, so that no processor is left waiting on one, then closes every service.
 */
public final class TestServices {
  private final List<BatchService> services = new ArrayList<>();
  private final List<CountDownLatch> gates = new ArrayList<>();

  /** Builds a service that polls every 20 ms, to be closed after the test. */
  public BatchService start(BatchService.Builder builder) {
    return add(builder.pollInterval(Duration.ofMillis(20)).build());
  }

  /** The payloads {@code item-0} to {@code item-(n-1)}. */
  public static List<String> items(int n) {
    return IntStream.range(0, n).mapToObj(i -> "item-" + i).collect(Collectors.toList());
  }

  /** Remembers {@code service} to close it after the test; returns it. */
  public <S extends BatchService> S add(S service) {
    services.add(service);
    return service;
  }

  /** A latch of one that processors wait on until the test, or {@link #closeAll()}, opens it. */
  public CountDownLatch gate() {
    CountDownLatch gate = new CountDownLatch(1);
    gates.add(gate);
    return gate;
  }

  /** Opens every gate, then closes every service. */
  public void closeAll() {
    gates.forEach(
        g -> {
          while (g.getCount() > 0) {
            g.countDown();
          }
        });
    services.forEach(BatchService::close);
  }
}
