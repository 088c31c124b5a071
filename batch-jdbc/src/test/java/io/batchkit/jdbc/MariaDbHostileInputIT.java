package io.batchkit.jdbc;

import javax.sql.DataSource;

/** Hostile input on MariaDB (see {@link TestDatabases} for the server's address). */
class MariaDbHostileInputIT extends AbstractHostileInputTest {
  @Override
  protected DataSource openDataSource() {
    return TestDatabases.mariadb(8);
  }
}
