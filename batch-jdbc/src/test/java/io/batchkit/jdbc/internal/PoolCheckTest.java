package io.batchkit.jdbc.internal;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.jdbc.TestDatabases;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.junit.jupiter.api.Test;

class PoolCheckTest {

  /** Whether closing a connection of {@code dataSource} closed its physical connection too. */
  static boolean closesPhysical(DataSource dataSource) throws SQLException {
    Connection physical;
    try (Connection handle = dataSource.getConnection()) {
      physical = PoolCheck.physical(handle);
    }
    return PoolCheck.closedWithHandle(physical);
  }

  @Test
  void plainH2DataSource_isNotPooled() throws SQLException {
    assertTrue(closesPhysical(TestDatabases.h2()));
  }

  @Test
  void hikariPool_isPooled() throws SQLException {
    HikariConfig config = new HikariConfig();
    config.setDataSource(TestDatabases.h2());
    config.setMaximumPoolSize(2);
    try (HikariDataSource pool = new HikariDataSource(config)) {
      assertFalse(closesPhysical(pool));
    }
  }

  @Test
  void unknownPhysicalConnection_getsTheBenefitOfTheDoubt() {
    assertFalse(PoolCheck.closedWithHandle(null));
  }
}
