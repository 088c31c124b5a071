/**
 * Argument checks, id generation and the daemon thread factory shared by the implementation.
 *
 * <p>Internal: not part of batchkit's API, unsupported, and may change in any release.
 */
package io.batchkit.internal.util;
