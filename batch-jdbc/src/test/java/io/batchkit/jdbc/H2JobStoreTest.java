package io.batchkit.jdbc;

import javax.sql.DataSource;

/** The JobStore contract on embedded H2: always runs. */
class H2JobStoreTest extends AbstractJdbcContractTest {
  @Override
  protected DataSource openDataSource() {
    return TestDatabases.h2();
  }
}
