package io.batchkit.internal.scheduler;

import static org.mockito.ArgumentMatchers.any;
import static org.mockito.ArgumentMatchers.anyInt;
import static org.mockito.Mockito.mock;
import static org.mockito.Mockito.never;
import static org.mockito.Mockito.times;
import static org.mockito.Mockito.verify;
import static org.mockito.Mockito.when;

import io.batchkit.spi.JobStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

/** When the dispatcher's ticks purge history, and with which cut-off. */
class HistoryPrunerTest {
  private static final Instant NOW = Instant.parse("2030-01-01T00:00:00Z");
  private static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  private static final Duration RETENTION = Duration.ofDays(7);
  private static final Instant CUT_OFF = NOW.minus(RETENTION);
  private static final int STEP = HistoryPruner.ROWS_PER_CALL;
  private static final Duration HOUR = Duration.ofHours(1);
  private static final Duration NANO = Duration.ofNanos(1);

  private final JobStore store = mock(JobStore.class);

  @Test
  void theFirstPurgeWaitsItsDelay_thenOneIntervalBetweenPurges() {
    HistoryPruner waiting = new HistoryPruner(store, CLOCK, RETENTION, HOUR, HOUR);
    waiting.tick();
    verify(store, never()).purgeHistory(any(), anyInt());

    HistoryPruner due = new HistoryPruner(store, CLOCK, RETENTION, Duration.ZERO, HOUR);
    due.tick();
    due.tick(); // the interval has not passed
    verify(store, times(1)).purgeHistory(CUT_OFF, STEP);
  }

  @Test
  void purgesWithTheRetentionsCutOff_andAgainSoonWhileACallDeletesAFullStep() {
    when(store.purgeHistory(CUT_OFF, STEP)).thenReturn(STEP, STEP, 3);
    HistoryPruner pruner = new HistoryPruner(store, CLOCK, RETENTION, Duration.ZERO, NANO);

    for (int i = 0; i < 3; i++) {
      spinPastOneNanosecond();
      pruner.tick();
    }
    verify(store, times(3)).purgeHistory(CUT_OFF, STEP);

    when(store.purgeHistory(CUT_OFF, STEP)).thenReturn(STEP);
    HistoryPruner hourly = new HistoryPruner(store, CLOCK, RETENTION, Duration.ZERO, HOUR);
    hourly.tick(); // a full step: the next one after a second, not an hour
    hourly.tick(); // within the second
    verify(store, times(4)).purgeHistory(CUT_OFF, STEP);
  }

  @Test
  void aFailureIsTriedAgainAtTheNextDueTick() {
    when(store.purgeHistory(CUT_OFF, STEP))
        .thenThrow(new IllegalStateException("database down"))
        .thenReturn(0);
    HistoryPruner pruner = new HistoryPruner(store, CLOCK, RETENTION, Duration.ZERO, NANO);

    pruner.tick(); // fails: logged, not thrown
    spinPastOneNanosecond();
    pruner.tick();

    verify(store, times(2)).purgeHistory(CUT_OFF, STEP);
  }

  @Test
  void aStoreWithoutHistoryIsNotAskedAgain() {
    when(store.purgeHistory(CUT_OFF, STEP))
        .thenThrow(new UnsupportedOperationException("no history here"));
    HistoryPruner pruner = new HistoryPruner(store, CLOCK, RETENTION, Duration.ZERO, NANO);

    for (int i = 0; i < 3; i++) {
      spinPastOneNanosecond();
      pruner.tick();
    }

    verify(store, times(1)).purgeHistory(CUT_OFF, STEP);
  }

  private static void spinPastOneNanosecond() {
    long start = System.nanoTime();
    while (System.nanoTime() - start < 2) {
      Thread.onSpinWait();
    }
  }
}
