package io.batchkit.jdbc;

import io.batchkit.spi.JobListContractTest;
import io.batchkit.spi.JobStore;
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
    private final SharedTables tables;

    OnDatabase(Supplier<DataSource> open) {
      this.tables = new SharedTables(open);
    }

    @Override
    protected JobStore newStore() {
      return tables.emptyStore();
    }

    /** The store is shared by the class's tests, and closed with it. */
    @Override
    protected void closeStore() {}

    @AfterAll
    void dropTables() throws Exception {
      tables.close();
    }
  }
}
