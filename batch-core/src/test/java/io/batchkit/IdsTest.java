package io.batchkit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IdsTest {

  private static final int MANY = 100_000;

  @Test
  void batchIdRandom_manyCallsInOneThread_strictlyIncrease() {
    BatchId previous = BatchId.random();
    for (int i = 0; i < MANY; i++) {
      BatchId next = BatchId.random();
      assertTrue(previous.compareTo(next) < 0, previous + " must sort before " + next);
      assertTrue(next.compareTo(previous) > 0, next + " must sort after " + previous);
      previous = next;
    }
  }

  @Test
  void jobIdRandom_manyCallsInOneThread_strictlyIncrease() {
    JobId previous = JobId.random();
    for (int i = 0; i < MANY; i++) {
      JobId next = JobId.random();
      assertTrue(previous.compareTo(next) < 0, previous + " must sort before " + next);
      previous = next;
    }
  }

  @Test
  void batchAndJobIds_madeInTurn_strictlyIncreaseTogether() {
    UUID previous = BatchId.random().value();
    for (int i = 0; i < MANY / 10; i++) {
      UUID job = JobId.random().value();
      UUID batch = BatchId.random().value();
      assertTrue(previous.compareTo(job) < 0, previous + " must sort before " + job);
      assertTrue(job.compareTo(batch) < 0, job + " must sort before " + batch);
      previous = batch;
    }
  }

  @Test
  void random_isATimeOrderedUuid() {
    UUID batch = BatchId.random().value();
    UUID job = JobId.random().value();

    assertEquals(7, batch.version());
    assertEquals(2, batch.variant());
    assertEquals(7, job.version());
    assertEquals(2, job.variant());
    long millis = batch.getMostSignificantBits() >>> 16;
    assertTrue(
        Math.abs(millis - System.currentTimeMillis()) < TimeUnit.MINUTES.toMillis(1),
        "timestamp " + millis);
  }

  @Test
  void batchIdRandom_fromManyThreads_isUniqueAndIncreasingPerThread() throws Exception {
    assertUniqueAcrossThreads(threadIndex -> BatchId.random().value());
  }

  @Test
  void jobIdRandom_fromManyThreads_isUniqueAndIncreasingPerThread() throws Exception {
    assertUniqueAcrossThreads(threadIndex -> JobId.random().value());
  }

  private static void assertUniqueAcrossThreads(Function<Integer, UUID> next) throws Exception {
    int threads = 8;
    int perThread = 20_000;
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<List<UUID>>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int index = t;
        futures.add(
            pool.submit(
                () -> {
                  assertTrue(start.await(10, TimeUnit.SECONDS), "start signal");
                  List<UUID> ids = new ArrayList<>(perThread);
                  for (int i = 0; i < perThread; i++) {
                    ids.add(next.apply(index));
                  }
                  return ids;
                }));
      }
      start.countDown();

      Set<UUID> all = new HashSet<>();
      for (Future<List<UUID>> future : futures) {
        List<UUID> ids = future.get(60, TimeUnit.SECONDS);
        for (int i = 1; i < ids.size(); i++) {
          assertTrue(ids.get(i - 1).compareTo(ids.get(i)) < 0, "in order within one thread");
        }
        all.addAll(ids);
      }
      assertEquals(threads * perThread, all.size(), "every id is unique");
    } finally {
      pool.shutdownNow();
      assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS), "pool stopped");
    }
  }

  @Test
  void batchIdParse_ofToString_roundTrips() {
    for (int i = 0; i < 100; i++) {
      BatchId id = BatchId.random();

      BatchId parsed = BatchId.parse(id.toString());

      assertEquals(id, parsed);
      assertEquals(0, id.compareTo(parsed));
      assertEquals(id.value().toString(), id.toString());
    }
  }

  @Test
  void jobIdParse_ofToString_roundTrips() {
    for (int i = 0; i < 100; i++) {
      JobId id = JobId.random();

      JobId parsed = JobId.parse(id.toString());

      assertEquals(id, parsed);
      assertEquals(0, id.compareTo(parsed));
    }
  }

  @ParameterizedTest(name = "[{index}] ''{0}''")
  @ValueSource(strings = {"", " ", "\t\n"})
  void parse_blank_namesTheField(String text) {
    IllegalArgumentException batch =
        assertThrows(IllegalArgumentException.class, () -> BatchId.parse(text));
    IllegalArgumentException job =
        assertThrows(IllegalArgumentException.class, () -> JobId.parse(text));

    assertEquals("id must not be blank", batch.getMessage());
    assertEquals("id must not be blank", job.getMessage());
  }

  @Test
  void parse_null_namesTheField() {
    NullPointerException batch =
        assertThrows(NullPointerException.class, () -> BatchId.parse(null));
    NullPointerException job = assertThrows(NullPointerException.class, () -> JobId.parse(null));

    assertEquals("id must not be null", batch.getMessage());
    assertEquals("id must not be null", job.getMessage());
  }

  @ParameterizedTest(name = "[{index}] ''{0}''")
  @ValueSource(
      strings = {
        "garbage",
        "1234",
        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz",
        "not-a-uuid-at-all",
        "0190d0a8-3c3e-7000-8000-0000000000000000000"
      })
  void parse_garbage_namesTheFieldAndTheText(String text) {
    IllegalArgumentException batch =
        assertThrows(IllegalArgumentException.class, () -> BatchId.parse(text));
    IllegalArgumentException job =
        assertThrows(IllegalArgumentException.class, () -> JobId.parse(text));

    for (IllegalArgumentException e : List.of(batch, job)) {
      assertTrue(e.getMessage().startsWith("id "), e.getMessage());
      assertTrue(e.getMessage().contains(text), e.getMessage());
    }
  }

  @Test
  void constructor_withNull_namesTheField() {
    NullPointerException batch = assertThrows(NullPointerException.class, () -> new BatchId(null));
    NullPointerException job = assertThrows(NullPointerException.class, () -> new JobId(null));

    assertEquals("value must not be null", batch.getMessage());
    assertEquals("value must not be null", job.getMessage());
  }
}
