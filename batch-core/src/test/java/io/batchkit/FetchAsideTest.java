package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.batchkit.spi.ClaimRequest;
import io.batchkit.spi.JobStore;
import io.batchkit.testkit.TestServices;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/**
 * Every test of {@link FetchAheadTest}, on a store that fetches aside ({@link
 * JobStore#fetchesAside}): the service then fetches ahead on a fetcher thread of its own, beside
 * its dispatch rounds. The store here is the in-memory one, which answers a fetch-only claim
 * correctly from any thread, saying that it fetches aside.
 */
class FetchAsideTest extends FetchAheadTest {
  /** The threads that sent a claim asking for jobs fetched ahead. */
  private final Set<String> fetchingThreads = ConcurrentHashMap.newKeySet();

  @Override
  protected JobStore newStore() {
    JobStore inner = JobStore.inMemory();
    return (JobStore)
        Proxy.newProxyInstance(
            JobStore.class.getClassLoader(),
            new Class<?>[] {JobStore.class},
            (proxy, method, args) -> {
              if (method.getName().equals("fetchesAside")) {
                return true;
              }
              if (args != null) {
                for (Object arg : args) {
                  if (arg instanceof ClaimRequest request && !request.fetchAhead().isEmpty()) {
                    fetchingThreads.add(Thread.currentThread().getName());
                  }
                }
              }
              try {
                return method.invoke(inner, args);
              } catch (InvocationTargetException e) {
                throw e.getCause();
              }
            });
  }

  /**
   * The fetcher fetches, and nothing else does: with a fixed depth, jobs are fetched ahead from the
   * start, and only ever by the fetcher thread.
   */
  @Test
  void onlyTheFetcherThreadFetchesAhead() {
    BatchService service =
        BatchService.builder()
            .store(newStore())
            .nodeId("aside")
            .maxConcurrency(4)
            .claimAhead(20)
            .pollInterval(Duration.ofMillis(20))
            .processor("t", ctx -> "ok")
            .build();
    try {
      int jobs = 2_000;
      Batch batch =
          service.submit(
              BatchRequest.builder("t").items(TestServices.items(jobs)).maxConcurrency(4).build());

      Batch done = service.awaitCompletion(batch.id(), Duration.ofSeconds(30));

      assertEquals(new Progress(jobs, 0, 0, jobs, 0, 0), done.progress(), done.toString());
      assertFalse(fetchingThreads.isEmpty(), "nothing was fetched ahead");
      assertTrue(
          fetchingThreads.stream().allMatch(name -> name.startsWith("batchkit-fetcher-aside-")),
          fetchingThreads.toString());
    } finally {
      service.close();
    }
  }
}
