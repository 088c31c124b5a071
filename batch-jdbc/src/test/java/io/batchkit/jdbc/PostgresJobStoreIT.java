package io.batchkit.jdbc;

import javax.sql.DataSource;

/** The JobStore contract on PostgreSQL (see {@link TestDatabases} for the server's address). */
class PostgresJobStoreIT extends AbstractJdbcContractTest {
  @Override
  protected DataSource openDataSource() {
    return TestDatabases.postgres(8);
  }
}
