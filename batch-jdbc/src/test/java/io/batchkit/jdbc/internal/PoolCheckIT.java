package io.batchkit.jdbc.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.jdbc.TestDatabases;
import java.sql.SQLException;
import org.junit.jupiter.api.Test;
import org.mariadb.jdbc.MariaDbDataSource;
import org.postgresql.ds.PGSimpleDataSource;

/** The drivers' own plain data sources, which the issue names, are told from pools. */
class PoolCheckIT {

  @Test
  void postgres_simpleDataSourceIsNotPooled_hikariIs() throws SQLException {
    try (HikariDataSource pool = TestDatabases.postgres(2)) {
      assertFalse(PoolCheckTest.closesPhysical(pool));
      PGSimpleDataSource plain = new PGSimpleDataSource();
      plain.setURL(pool.getJdbcUrl());
      assertTrue(PoolCheckTest.closesPhysical(plain));
    }
  }

  @Test
  void mariadb_plainDataSourceIsNotPooled_hikariIs() throws SQLException {
    try (HikariDataSource pool = TestDatabases.mariadb(2)) {
      assertFalse(PoolCheckTest.closesPhysical(pool));
      assertTrue(PoolCheckTest.closesPhysical(new MariaDbDataSource(pool.getJdbcUrl())));
    }
  }
}
