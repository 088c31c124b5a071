package io.batchkit.jdbc.internal;

import io.batchkit.jdbc.SqlDialect;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.UUID;

/**
 * What differs between the databases: how ids and times are bound and read, the cast for a numeric
 * parameter, and how an {@link SQLException} is sorted (duplicate key, worth retrying, other). All
 * SQL text is shared.
 */
public final class Dialect {
  private final SqlDialect kind;

  public Dialect(SqlDialect kind) {
    this.kind = kind;
  }

  public SqlDialect kind() {
    return kind;
  }

  /**
   * Whether claims and outcomes run as one statement each ({@link PostgresSteps}): PostgreSQL only,
   * since MySQL has no {@code UPDATE ... RETURNING} and H2 locks every row its {@code LIMIT ... FOR
   * UPDATE} reads. The other databases take the portable steps of {@link Claims} and {@link
   * Outcomes}.
   */
  boolean hasSingleStatementSteps() {
    return kind == SqlDialect.POSTGRESQL;
  }

  /**
   * A bigint parameter usable in arithmetic, where PostgreSQL cannot infer the type of a bare ?.
   */
  String bigintParam() {
    return kind == SqlDialect.MYSQL ? "CAST(? AS SIGNED)" : "CAST(? AS BIGINT)";
  }

  void setUuid(PreparedStatement ps, int index, UUID id) throws SQLException {
    if (kind == SqlDialect.MYSQL) {
      ps.setString(index, id.toString());
    } else {
      ps.setObject(index, id);
    }
  }

  UUID getUuid(ResultSet rs, String column) throws SQLException {
    if (kind == SqlDialect.MYSQL) {
      return UUID.fromString(rs.getString(column));
    }
    return rs.getObject(column, UUID.class);
  }

  /**
   * Binds a text that is compared exactly (job type, idempotency key, metadata). MySQL keeps these
   * as UTF-8 bytes, since its text collations ignore case and trailing spaces.
   */
  void setKey(PreparedStatement ps, int index, String text) throws SQLException {
    if (kind == SqlDialect.MYSQL) {
      ps.setBytes(index, text == null ? null : text.getBytes(StandardCharsets.UTF_8));
    } else {
      ps.setString(index, text);
    }
  }

  String getKey(ResultSet rs, String column) throws SQLException {
    if (kind == SqlDialect.MYSQL) {
      byte[] bytes = rs.getBytes(column);
      return bytes == null ? null : new String(bytes, StandardCharsets.UTF_8);
    }
    return rs.getString(column);
  }

  /** Binds an instant as UTC, to the microsecond that every supported database keeps. */
  void setInstant(PreparedStatement ps, int index, Instant instant) throws SQLException {
    if (instant == null) {
      ps.setObject(index, null);
      return;
    }
    Instant micros = instant.truncatedTo(ChronoUnit.MICROS);
    if (kind == SqlDialect.MYSQL) {
      ps.setObject(index, LocalDateTime.ofInstant(micros, ZoneOffset.UTC));
    } else {
      ps.setObject(index, OffsetDateTime.ofInstant(micros, ZoneOffset.UTC));
    }
  }

  Instant getInstant(ResultSet rs, String column) throws SQLException {
    if (kind == SqlDialect.MYSQL) {
      LocalDateTime value = rs.getObject(column, LocalDateTime.class);
      return value == null ? null : value.toInstant(ZoneOffset.UTC);
    }
    OffsetDateTime value = rs.getObject(column, OffsetDateTime.class);
    return value == null ? null : value.toInstant();
  }

  /** Whether the error is a unique-key violation. */
  boolean isDuplicateKey(SQLException e) {
    String state = e.getSQLState();
    return "23505".equals(state) || (kind == SqlDialect.MYSQL && e.getErrorCode() == 1062);
  }

  /**
   * Whether the error is a deadlock or serialization failure: the transaction may simply be rerun.
   */
  boolean isConflict(SQLException e) {
    String state = e.getSQLState();
    return "40001".equals(state)
        || "40P01".equals(state)
        || (kind == SqlDialect.MYSQL && (e.getErrorCode() == 1213 || e.getErrorCode() == 1205))
        || (kind == SqlDialect.H2 && (e.getErrorCode() == 40001 || e.getErrorCode() == 50200));
  }

  /** Whether the same call may succeed later: a lost connection, a conflict, a timeout. */
  boolean isTransient(SQLException e) {
    if (isConflict(e)
        || e instanceof java.sql.SQLTransientException
        || e instanceof java.sql.SQLRecoverableException) {
      return true;
    }
    String state = e.getSQLState();
    return state != null
        && (state.startsWith("08") || state.startsWith("57P") || state.equals("HYT00"));
  }
}
