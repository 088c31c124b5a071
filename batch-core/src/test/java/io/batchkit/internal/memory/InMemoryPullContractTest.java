package io.batchkit.internal.memory;

import io.batchkit.PullContractTest;
import io.batchkit.spi.JobStore;

/** The contract of the pull steps, on the in-memory store. */
class InMemoryPullContractTest extends PullContractTest {
  @Override
  protected JobStore newStore() {
    return JobStore.inMemory();
  }
}
