/**
 * JMH benchmarks of batchkit, each measured in the same run as the baseline a user would otherwise
 * pick (a bare thread pool, a semaphore-limited pool, plain SQL). Not a library: nothing here is an
 * API, and the module is never deployed. See {@code benchmarks/README.md} for the commands.
 */
package io.batchkit.benchmarks;
