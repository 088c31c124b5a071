package io.batchkit.web;

import io.batchkit.spi.JobStore;

/** The REST API over the in-memory store. */
class InMemoryBatchWebTest extends AbstractBatchWebTest {
  @Override
  JobStore newStore() {
    return JobStore.inMemory();
  }
}
