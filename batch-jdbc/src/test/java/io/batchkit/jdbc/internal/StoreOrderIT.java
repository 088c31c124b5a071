package io.batchkit.jdbc.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import io.batchkit.jdbc.SqlDialect;
import io.batchkit.jdbc.TestDatabases;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import java.util.UUID;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

/**
 * The order a step locks rows in over several chunks ({@link Tables#inStoreOrder}) is the order
 * each database sorts ids in, which a single statement's {@code ORDER BY id} takes them in: else a
 * step that locks more rows than one chunk holds and a single statement could wait on each other in
 * a cycle.
 */
class StoreOrderIT {

  @Test
  void h2() throws SQLException {
    checkOrder(TestDatabases.h2(), SqlDialect.H2, "UUID");
  }

  @Test
  void postgres() throws SQLException {
    try (var ds = TestDatabases.postgres(1)) {
      checkOrder(ds, SqlDialect.POSTGRESQL, "UUID");
    }
  }

  @Test
  void mariadb() throws SQLException {
    try (var ds = TestDatabases.mariadb(1)) {
      checkOrder(ds, SqlDialect.MYSQL, "CHAR(36) CHARACTER SET ascii");
    }
  }

  /**
   * Stores more ids than one chunk of {@link Tables#selectIn} takes, with every mix of top bits in
   * both halves, and compares the database's order with the Java one.
   */
  private static void checkOrder(DataSource ds, SqlDialect kind, String idType)
      throws SQLException {
    Dialect dialect = new Dialect(kind);
    Random random = new Random(42);
    List<UUID> ids = new ArrayList<>();
    for (int i = 0; i < Tables.IN_LIST_LIMIT * 2 + 100; i++) {
      ids.add(new UUID(random.nextLong(), random.nextLong()));
    }
    ids.add(new UUID(Long.MIN_VALUE, 0));
    ids.add(new UUID(Long.MAX_VALUE, -1));
    ids.add(new UUID(0, Long.MIN_VALUE));
    ids.add(new UUID(0, Long.MAX_VALUE));
    ids.add(new UUID(-1, -1));
    ids.add(new UUID(0, 0));
    String table = TestDatabases.uniquePrefix() + "ids";
    try (Connection c = ds.getConnection();
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE " + table + " (id " + idType + " NOT NULL PRIMARY KEY)");
      try {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + table + " VALUES (?)")) {
          for (UUID id : ids) {
            dialect.setUuid(ps, 1, id);
            ps.addBatch();
          }
          ps.executeBatch();
        }
        List<UUID> sorted = new ArrayList<>();
        try (ResultSet rs = s.executeQuery("SELECT id FROM " + table + " ORDER BY id")) {
          while (rs.next()) {
            sorted.add(dialect.getUuid(rs, "id"));
          }
        }

        assertEquals(sorted, Tables.inStoreOrder(ids));
        // the order UUID.compareTo gives differs: the test can tell the two apart
        assertNotEquals(sorted, new ArrayList<>(new TreeSet<>(ids)));
      } finally {
        s.execute("DROP TABLE " + table);
      }
    }
  }
}
