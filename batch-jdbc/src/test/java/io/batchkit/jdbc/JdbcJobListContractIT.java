package io.batchkit.jdbc;

import io.batchkit.spi.JobListContractTest;
import io.batchkit.spi.JobStore;
import java.sql.SQLException;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.TestInstance;

/** The contract of listing jobs across batches, on each database. */
class JdbcJobListContractIT {

  @Nested
  class OnH2 extends OnDatabase {
    OnH2() {
      super(TestDatabases::h2);
    }
  }

  @Nested
  class OnPostgres extends OnDatabase {
    OnPostgres() {
      super(() -> TestDatabases.postgres(6));
    }
  }

  @Nested
  class OnMariaDb extends OnDatabase {
    OnMariaDb() {
      super(() -> TestDatabases.mariadb(6));
    }
  }

  /** One database: the tables are created once per class and emptied before each test. */
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  abstract static class OnDatabase extends JobListContractTest {
    private final String prefix = TestDatabases.uniquePrefix();
    private final Supplier<DataSource> open;
    private DataSource dataSource;
    private JdbcJobStore jdbcStore;

    OnDatabase(Supplier<DataSource> open) {
      this.open = open;
    }

    @Override
    protected JobStore newStore() {
      try {
        if (jdbcStore == null) {
          dataSource = open.get();
          jdbcStore =
              JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
        } else {
          TestDatabases.clear(dataSource, prefix);
        }
        return jdbcStore;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    }

    /** The store is shared by the class's tests, and closed with it. */
    @Override
    protected void closeStore() {}

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
}
