/**
 * The contracts a third party implements: {@link io.batchkit.spi.JobStore} (where batches and jobs
 * live; its Javadoc is the spec and {@code JobStoreContractTest} in batch-core's test-jar checks
 * it), {@link io.batchkit.spi.JobProcessorProvider} (processors found through {@link
 * java.util.ServiceLoader}), and the records they exchange.
 */
package io.batchkit.spi;
