package io.batchkit.internal.memory;

import io.batchkit.spi.JobListContractTest;
import io.batchkit.spi.JobStore;

/** The contract of listing jobs across batches, on the in-memory store. */
class InMemoryJobListContractTest extends JobListContractTest {
  @Override
  protected JobStore newStore() {
    return JobStore.inMemory();
  }
}
