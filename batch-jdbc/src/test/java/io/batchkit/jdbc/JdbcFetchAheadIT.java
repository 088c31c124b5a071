package io.batchkit.jdbc;

import io.batchkit.FetchAheadTest;
import io.batchkit.spi.JobStore;
import java.util.function.Supplier;
import javax.sql.DataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.TestInstance;

/**
 * The rules for jobs fetched ahead ({@link FetchAheadTest}: the batch's limit on running jobs,
 * cancellation, close, timeouts and the failure policy) through a service on each database: on
 * PostgreSQL the service fetches on a lane of its own, beside its rounds.
 */
class JdbcFetchAheadIT {

  @Nested
  class OnH2 extends OnDatabase {
    OnH2() {
      super(TestDatabases::h2);
    }
  }

  @Nested
  class OnPostgres extends OnDatabase {
    OnPostgres() {
      super(() -> TestDatabases.postgres(10));
    }
  }

  @Nested
  class OnMariaDb extends OnDatabase {
    OnMariaDb() {
      super(() -> TestDatabases.mariadb(10));
    }
  }

  /** One database: the tables are created once per class and emptied before each test. */
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  abstract static class OnDatabase extends FetchAheadTest {
    private final SharedTables tables;

    OnDatabase(Supplier<DataSource> open) {
      this.tables = new SharedTables(open);
    }

    @Override
    protected JobStore newStore() {
      return tables.emptyStore();
    }

    @AfterAll
    void dropTables() throws Exception {
      tables.close();
    }
  }
}
