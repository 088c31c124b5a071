package io.batchkit.web;

import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.jdbc.TestDatabases;
import io.batchkit.spi.JobStore;
import java.sql.SQLException;

/** The REST API over PostgreSQL, with a fresh table prefix per test. */
class PostgresBatchWebIT extends AbstractBatchWebTest {
  private HikariDataSource pool;
  private String prefix;

  @Override
  JobStore newStore() {
    pool = TestDatabases.postgres(10);
    prefix = TestDatabases.uniquePrefix();
    return JdbcJobStore.builder(pool).tablePrefix(prefix).createSchema(true).build();
  }

  @Override
  void closeStore() {
    if (pool != null) {
      try {
        TestDatabases.drop(pool, prefix);
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      } finally {
        pool.close();
      }
    }
  }
}
