/**
 * Runnable programs that show batchkit's capabilities, one {@code main} each: {@link
 * io.batchkit.examples.QuickStart}, {@link io.batchkit.examples.DurableRestart}, {@link
 * io.batchkit.examples.Plugin}, {@link io.batchkit.examples.RetriesTimeoutsRateLimits} and {@link
 * io.batchkit.examples.SeveralNodes}. Examples print to {@code System.out}; the library never does.
 */
package io.batchkit.examples;
