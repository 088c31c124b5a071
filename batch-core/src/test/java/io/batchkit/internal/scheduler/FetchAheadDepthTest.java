package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@link FetchAhead}: how many jobs a node fetches ahead, by measure or fixed. */
class FetchAheadDepthTest {
  private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

  @Test
  void nothingIsFetchedForATypeUntilOneOfItsJobsEnded() {
    FetchAhead fetch = new FetchAhead(-1);
    assertEquals(0, fetch.depth("t", 8));
    fetch.record("other", MS);
    assertEquals(0, fetch.depth("t", 8));
  }

  @Test
  void aboutAHundredMillisecondsOfWorkForTheSlotsHeld() {
    FetchAhead fetch = new FetchAhead(-1);
    fetch.record("t", 20 * MS);
    assertEquals(40, fetch.depth("t", 8), "8 slots of 20 ms jobs");
    assertEquals(5, fetch.depth("t", 1), "1 slot");
    assertEquals(2, fetch.refillBelow("t", 1));
    assertEquals(0, fetch.depth("t", 0), "no slot held: nothing to start fetched jobs in");
  }

  @Test
  void longJobsAreNotFetchedAheadAndShortOnesUpToTheMost() {
    FetchAhead fetch = new FetchAhead(-1);
    fetch.record("long", 2_000 * MS);
    fetch.record("short", 1_000); // 1 µs
    assertEquals(0, fetch.depth("long", 8));
    assertEquals(FetchAhead.MAX_DEPTH, fetch.depth("short", 8));
  }

  @Test
  void theMeanFollowsTheJobsAnEighthAtATime() {
    FetchAhead fetch = new FetchAhead(-1);
    fetch.record("t", 100 * MS);
    assertEquals(1, fetch.depth("t", 1));
    for (int i = 0; i < 40; i++) {
      fetch.record("t", 10 * MS);
    }
    int depth = fetch.depth("t", 1);
    assertTrue(depth == 9 || depth == 10, "after many 10 ms jobs, about 10 ms: " + depth);
  }

  @Test
  void aFixedDepthReplacesTheMeasure() {
    assertEquals(7, new FetchAhead(7).depth("unknown", 1));
    FetchAhead off = new FetchAhead(0);
    off.record("t", 1_000);
    assertEquals(0, off.depth("t", 8));
  }
}
