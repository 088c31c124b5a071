package io.batchkit.jdbc;

import java.sql.SQLException;
import java.util.function.Supplier;
import javax.sql.DataSource;

/**
 * One database's tables for a contract suite that runs per database: created on the first {@link
 * #emptyStore()}, emptied on each later one, dropped by {@link #close()}. Creating the tables once
 * per class keeps a suite of many short tests fast on a server.
 */
final class SharedTables implements AutoCloseable {
  private final String prefix = TestDatabases.uniquePrefix();
  private final Supplier<DataSource> open;
  private DataSource dataSource;
  private JdbcJobStore store;

  SharedTables(Supplier<DataSource> open) {
    this.open = open;
  }

  /** Returns the store on these tables, with every row from earlier tests removed. */
  JdbcJobStore emptyStore() {
    try {
      if (store == null) {
        dataSource = open.get();
        store = JdbcJobStore.builder(dataSource).tablePrefix(prefix).createSchema(true).build();
      } else {
        TestDatabases.clear(dataSource, prefix);
      }
      return store;
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The tables' prefix, for a test's own statements on them. */
  String prefix() {
    return prefix;
  }

  /** The data source the tables are on; opened by the first {@link #emptyStore()}. */
  DataSource dataSource() {
    return dataSource;
  }

  /** Drops the tables and closes the data source, if they were made. */
  @Override
  public void close() throws Exception {
    if (dataSource != null) {
      TestDatabases.drop(dataSource, prefix);
      if (dataSource instanceof AutoCloseable closeable) {
        closeable.close();
      }
    }
  }
}
