/**
 * The BatchService implementation: the dispatcher, worker threads, retry timing, rate limits and
 * statistics.
 *
 * <p>Internal: not part of batchkit's API, unsupported, and may change in any release.
 */
package io.batchkit.internal.scheduler;
