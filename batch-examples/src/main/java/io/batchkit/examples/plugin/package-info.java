/**
 * A plugin as it would ship in its own jar: a {@link io.batchkit.spi.JobProcessorProvider} listed
 * in {@code META-INF/services}, run by {@link io.batchkit.examples.Plugin}.
 */
package io.batchkit.examples.plugin;
