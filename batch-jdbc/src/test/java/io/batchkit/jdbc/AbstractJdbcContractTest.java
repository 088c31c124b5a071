package io.batchkit.jdbc;

import io.batchkit.spi.JobStore;
import io.batchkit.spi.JobStoreContractTest;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.TestInstance;

/**
 * Runs the {@link JobStoreContractTest} on one database: the tables are created once per class
 * under a fresh prefix, emptied before each test and dropped at the end.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class AbstractJdbcContractTest extends JobStoreContractTest {
  private final String prefix = TestDatabases.uniquePrefix();
  private DataSource dataSource;
  private JdbcJobStore jdbcStore;

  /** Returns the database; called once per class. */
  protected abstract DataSource openDataSource();

  @Override
  protected JobStore newStore() {
    try {
      if (jdbcStore == null) {
        dataSource = openDataSource();
        jdbcStore = JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
      } else {
        TestDatabases.clear(dataSource, prefix);
      }
      return jdbcStore;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  protected void closeStore() {
    // the store is shared by the class's tests; its tables are emptied before each one
  }

  @AfterAll
  void dropTables() throws Exception {
    if (dataSource != null) {
      TestDatabases.drop(dataSource, prefix);
      if (dataSource instanceof AutoCloseable closeable) {
        closeable.close();
      }
    }
  }
}
