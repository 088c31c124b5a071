package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchStatus;
import io.batchkit.FailurePolicy;
import io.batchkit.JobId;
import io.batchkit.Priority;
import io.batchkit.Progress;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.NewJob;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * {@link BatchSettings} reads a batch's settings from the store once, and forgets them on delete,
 * from the cache and from its memo of the last batch alike.
 */
class BatchSettingsTest {
  private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");

  private final JobStore store = JobStore.inMemory();
  private final BatchSettings settings = new BatchSettings(store);

  @Test
  void settingsAreReadOnce_andForgottenOnDelete_whetherMemoisedOrCached() {
    Batch a = insert();
    Batch b = insert();
    assertEquals(a.id(), settings.get(a.id()).id());
    assertEquals(b.id(), settings.get(b.id()).id()); // the memo now holds b, the cache both

    delete(a.id());
    delete(b.id());
    assertEquals(a.id(), settings.get(a.id()).id(), "kept: no store call per job");
    assertEquals(b.id(), settings.get(b.id()).id(), "kept: no store call per job");

    settings.forget(a.id()); // a is in the cache only: the memo holds b
    assertEquals(b.id(), settings.get(b.id()).id(), "another batch's settings are kept");
    assertNull(settings.get(a.id()), "the store no longer has it");
    settings.forget(b.id()); // b is in the memo and the cache
    assertNull(settings.get(b.id()), "the store no longer has it");
  }

  @Test
  void aBatchTheStoreNeverHad_hasNoSettings() {
    assertNull(settings.get(BatchId.random()));
  }

  private Batch insert() {
    Batch batch =
        new Batch(
            BatchId.random(),
            "b",
            "t",
            Priority.NORMAL,
            Map.of(),
            1,
            1,
            Duration.ofMinutes(1),
            FailurePolicy.never(),
            Optional.empty(),
            BatchStatus.PROCESSING,
            Progress.allQueued(1),
            T0,
            Optional.of(T0),
            T0,
            Optional.empty(),
            Optional.empty());
    store.insertBatch(batch, List.of(new NewJob(JobId.random(), "p")));
    return batch;
  }

  private void delete(BatchId id) {
    store.cancelBatch(id, T0.plusSeconds(1));
    store.deleteBatch(id);
  }
}
