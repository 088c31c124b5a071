package io.batchkit.internal.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.batchkit.Batch;
import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.spi.JobStore;
import io.batchkit.testkit.TestServices;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@link BatchSettings} reads a batch's settings from the store once, and forgets them on delete,
 * from the cache and from its memo of the last batch alike. The batches are made and deleted
 * through a service over the same store, which never starts them.
 */
class BatchSettingsTest {
  private final TestServices services = new TestServices();
  private final JobStore store = JobStore.inMemory();
  private final BatchService service =
      services.start(BatchService.builder().store(store).processor("t", ctx -> "ok"));
  private final BatchSettings settings = new BatchSettings(store);

  @AfterEach
  void closeAll() {
    services.closeAll();
  }

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

  /** A pending batch of one job, stored and not started. */
  private Batch insert() {
    return service.createBatch(BatchRequest.builder("t").items(TestServices.items(1)).build());
  }

  private void delete(BatchId id) {
    service.cancelBatch(id);
    service.deleteBatch(id);
  }
}
