package io.batchkit.internal.memory;

import io.batchkit.spi.JobStore;
import io.batchkit.spi.WebhookContractTest;

/** The webhook-delivery contract on the in-memory store. */
class InMemoryWebhookContractTest extends WebhookContractTest {
  @Override
  protected JobStore newStore() {
    return JobStore.inMemory();
  }
}
