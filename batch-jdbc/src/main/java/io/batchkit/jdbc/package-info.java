/**
 * The durable store: {@link io.batchkit.jdbc.JdbcJobStore} on PostgreSQL, MySQL/MariaDB and H2, and
 * the {@link io.batchkit.jdbc.SqlDialect} a user may pick instead of the detected one.
 */
package io.batchkit.jdbc;
