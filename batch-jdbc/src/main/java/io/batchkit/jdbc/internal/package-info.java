/**
 * The SQL behind {@link io.batchkit.jdbc.JdbcJobStore}: statements, dialect differences, row
 * mapping, the transaction helper and the PostgreSQL listener.
 *
 * <p>Internal: not part of batchkit's API, unsupported, and may change in any release.
 */
package io.batchkit.jdbc.internal;
