package io.batchkit.jdbc;

import javax.sql.DataSource;

/** The JobStore contract on MariaDB (see {@link TestDatabases} for the server's address). */
class MariaDbJobStoreIT extends AbstractJdbcContractTest {
  @Override
  protected DataSource openDataSource() {
    return TestDatabases.mariadb(8);
  }
}
