package io.batchkit.internal.memory;

import io.batchkit.spi.JobStore;
import io.batchkit.spi.NodeRegistryContractTest;

/** The registry-of-nodes contract on the in-memory store, which has no session signal. */
class InMemoryNodeRegistryTest extends NodeRegistryContractTest {
  @Override
  protected JobStore newStore() {
    return JobStore.inMemory();
  }

  @Override
  protected boolean hasSessionSignal() {
    return false;
  }
}
