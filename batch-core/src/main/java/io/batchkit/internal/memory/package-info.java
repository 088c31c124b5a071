/**
 * The in-memory JobStore.
 *
 * <p>Internal: not part of batchkit's API, unsupported, and may change in any release.
 */
package io.batchkit.internal.memory;
