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

  private final JobStore store = mock(JobStore.class);

  @Test
  void theFirstPurgeWaitsOneInterval() {
    HistoryPruner pruner = new HistoryPruner(store, CLOCK, RETENTION, Duration.ofHours(1));

    pruner.tick();

    verify(store, never()).purgeHistory(any(), anyInt());
  }

  @Test
  void purgesWithTheRetentionsCutOff_andAgainAtOnceWhileACallDeletesAFullStep() {
    when(store.purgeHistory(CUT_OFF, STEP)).thenReturn(STEP, STEP, 3);
    HistoryPruner pruner = new HistoryPruner(store, CLOCK, RETENTION, Duration.ofNanos(1));
    spinPastOneNanosecond();

    pruner.tick(); // due
    pruner.tick(); // more left: at once
    pruner.tick(); // more left: at once
    verify(store, times(3)).purgeHistory(CUT_OFF, STEP);

    HistoryPruner slow = new HistoryPruner(store, CLOCK, RETENTION, Duration.ofHours(1));
    slow.tick();
    verify(store, times(3)).purgeHistory(CUT_OFF, STEP); // not due
  }

  @Test
  void aFailureIsTriedAgainAtTheNextDueTick_aStoreWithoutHistoryIsNotAskedAgain() {
    when(store.purgeHistory(CUT_OFF, STEP))
        .thenThrow(new IllegalStateException("database down"))
        .thenThrow(new UnsupportedOperationException("no history here"))
        .thenReturn(0);
    HistoryPruner pruner = new HistoryPruner(store, CLOCK, RETENTION, Duration.ZERO);

    pruner.tick(); // fails: logged, not thrown
    pruner.tick(); // unsupported
    pruner.tick();
    pruner.tick();

    verify(store, times(2)).purgeHistory(CUT_OFF, STEP);
  }

  private static void spinPastOneNanosecond() {
    long start = System.nanoTime();
    while (System.nanoTime() - start < 2) {
      Thread.onSpinWait();
    }
  }
}
