package io.batchkit.jdbc.internal;

import io.batchkit.jdbc.SqlDialect;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Locale;
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
   * Whether a node can hold a <em>session lock</em> that every other client sees and that the
   * server releases when the node's connection ends: PostgreSQL's advisory locks and MySQL's {@code
   * GET_LOCK}. H2 has none that other processes see, so its nodes count as dead by the age of their
   * heartbeat and their jobs come back by lease expiry (see {@link LivenessSession}).
   */
  boolean hasSessionLocks() {
    return kind != SqlDialect.H2;
  }

  /**
   * Takes node lock {@code key} of the store with this table prefix for {@code c}'s session,
   * without waiting; returns whether it is now held by that session. PostgreSQL: the two-key
   * advisory lock (a number for the prefix, the key); MySQL: the named lock {@code
   * <prefix>node_<key>}.
   */
  boolean tryNodeLock(Connection c, String prefix, int key) throws SQLException {
    // PostgreSQL answers a boolean, MySQL 1, 0 or NULL; getBoolean reads both
    return nodeLockCall(c, "pg_try_advisory_lock", "GET_LOCK(?, 0)", prefix, key);
  }

  /** Releases node lock {@code key} held by {@code c}'s session, if it holds it. */
  void releaseNodeLock(Connection c, String prefix, int key) throws SQLException {
    nodeLockCall(c, "pg_advisory_unlock", "RELEASE_LOCK(?)", prefix, key);
  }

  /**
   * Calls a lock function on node lock {@code key}: on PostgreSQL {@code pgFunction(prefix key,
   * key)}, on MySQL {@code myCall} with the lock's name; returns its answer as a boolean.
   */
  private boolean nodeLockCall(
      Connection c, String pgFunction, String myCall, String prefix, int key) throws SQLException {
    boolean pg = kind == SqlDialect.POSTGRESQL;
    String sql =
        pg ? "SELECT " + pgFunction + "(" + prefixLockKey(prefix) + ", ?)" : "SELECT " + myCall;
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      if (pg) {
        ps.setInt(1, key);
      } else {
        ps.setString(1, nodeLockName(prefix, key));
      }
      try (ResultSet rs = ps.executeQuery()) {
        return rs.next() && rs.getBoolean(1);
      }
    }
  }

  /** Releases every node lock {@code c}'s session holds, before it goes back to its pool. */
  void releaseAllNodeLocks(Connection c) throws SQLException {
    String sql =
        kind == SqlDialect.POSTGRESQL
            ? "SELECT pg_advisory_unlock_all()"
            : "SELECT RELEASE_ALL_LOCKS()";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.executeQuery().close();
    }
  }

  /**
   * A condition that holds when some session holds the node lock whose key is in {@code keyColumn};
   * for stores with {@link #hasSessionLocks}. The literals in it come from the validated table
   * prefix, never from input.
   */
  String nodeLockHeld(String prefix, String keyColumn) {
    if (kind == SqlDialect.POSTGRESQL) {
      // a two-key advisory lock shows in pg_locks as (classid, objid, objsubid 2)
      // advisory locks are per database: only this database's count
      return "EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'"
          + " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
          + " AND l.classid = "
          + prefixLockKey(prefix)
          + " AND l.objid = "
          + keyColumn
          + " AND l.objsubid = 2 AND l.granted)";
    }
    return "IS_USED_LOCK(CONCAT('" + nodeLockStem(prefix) + "', " + keyColumn + ")) IS NOT NULL";
  }

  /**
   * The first key of a store's PostgreSQL node locks: a stable, non-negative hash of its prefix,
   * lower-cased as the database folds the unquoted table names it names.
   */
  private static int prefixLockKey(String prefix) {
    return (prefix.toLowerCase(Locale.ROOT) + "nodes").hashCode() & 0x7fffffff;
  }

  /** A MySQL node lock's name: the lower-cased prefix, {@code node_} and the key. */
  private static String nodeLockName(String prefix, int key) {
    return nodeLockStem(prefix) + key;
  }

  private static String nodeLockStem(String prefix) {
    return prefix.toLowerCase(Locale.ROOT) + "node_";
  }

  /**
   * An {@code INSERT} of one row ({@code values} are its parameters or literals) that does nothing
   * when a row with the same primary key exists; {@code key} is the primary key's one column. H2
   * needs {@code typedValues}, the same values each cast to its column's type: it has no such
   * {@code INSERT}, and the {@code MERGE} it runs instead cannot infer the type of a bare {@code
   * ?}.
   */
  String insertUnlessPresent(
      String table, String key, String columns, String values, String typedValues) {
    return switch (kind) {
      case POSTGRESQL ->
          "INSERT INTO "
              + table
              + " ("
              + columns
              + ") VALUES ("
              + values
              + ") ON CONFLICT DO NOTHING";
      // not INSERT IGNORE: on an existing row it takes a shared lock, and two transactions that
      // both go on to lock the row for update would deadlock
      case MYSQL ->
          "INSERT INTO "
              + table
              + " ("
              + columns
              + ") VALUES ("
              + values
              + ") ON DUPLICATE KEY UPDATE "
              + key
              + " = "
              + key;
      case H2 ->
          "MERGE INTO "
              + table
              + " t USING (SELECT "
              + typedValues
              + ") s ("
              + columns
              + ") ON t."
              + key
              + " = s."
              + key
              + " WHEN NOT MATCHED THEN INSERT ("
              + columns
              + ") VALUES ("
              + prefixed("s.", columns)
              + ")";
    };
  }

  /**
   * A {@code DELETE} of at most a given number of the rows of {@code table} that meet {@code
   * condition}, the first by {@code order} (columns that order the rows completely, an indexed one
   * first; so that MySQL's statement-based binary log deletes the same rows on a replica): its
   * parameters are the condition's, then the number. PostgreSQL has no {@code DELETE ... LIMIT}: it
   * picks the rows' physical ids first, which it then finds without a scan, and passes over the
   * rows another transaction holds (a {@code deleteBatch} deleting the same batch's history in
   * another order), so that a purge never waits for a row and cannot close a cycle with one: the
   * rows it passes over are taken by the next purge, if they are still there.
   */
  String deleteSome(String table, String condition, String order) {
    return switch (kind) {
      case POSTGRESQL ->
          "DELETE FROM "
              + table
              + " WHERE ctid = ANY(ARRAY(SELECT ctid FROM "
              + table
              + " WHERE "
              + condition
              + " ORDER BY "
              + order
              + " LIMIT ? FOR UPDATE SKIP LOCKED))";
      case MYSQL ->
          "DELETE FROM " + table + " WHERE " + condition + " ORDER BY " + order + " LIMIT ?";
      case H2 -> "DELETE FROM " + table + " WHERE " + condition + " FETCH FIRST ? ROWS ONLY";
    };
  }

  private static String prefixed(String alias, String columns) {
    StringBuilder out = new StringBuilder();
    for (String column : columns.split(",")) {
      out.append(out.length() == 0 ? "" : ", ").append(alias).append(column.trim());
    }
    return out.toString();
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
