package io.batchkit.jdbc;

import javax.sql.DataSource;

/** Hostile input on embedded H2: always runs. */
class H2HostileInputTest extends AbstractHostileInputTest {
  @Override
  protected DataSource openDataSource() {
    return TestDatabases.h2();
  }
}
