package io.batchkit.jdbc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.JobStoreContractTest;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.h2.jdbcx.JdbcDataSource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

/**
 * The schema as a user who manages it with Flyway gets it: the migrations under {@code
 * io/batchkit/jdbc/migration/<dialect>} are applied by Flyway to an empty schema (a database of its
 * own on MariaDB and H2), the whole store contract then runs on the result, and {@code
 * createSchema(true)} on another empty schema creates exactly the same tables, columns and indexes.
 * An application's own Flyway, with its default location, never finds them; the README's setup runs
 * them on a schema that already holds the application's tables.
 */
class FlywayMigrationIT {

  @Test
  void anApplicationsFlyway_withItsDefaultLocation_findsNoBatchkitMigration() {
    JdbcDataSource h2 = new JdbcDataSource();
    h2.setURL("jdbc:h2:mem:app" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1");

    int found = Flyway.configure().dataSource(h2).load().info().all().length;

    assertEquals(0, found, "batch-jdbc is on this class path; db/migration must hold none of it");
  }

  @Test
  void theReadmesSetup_migratesASchemaThatHoldsTheApplicationsTables() throws Exception {
    JdbcDataSource h2 = new JdbcDataSource();
    h2.setURL("jdbc:h2:mem:app" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1");
    try (Connection c = h2.getConnection();
        Statement s = c.createStatement()) {
      s.execute("CREATE TABLE app_orders (id BIGINT PRIMARY KEY)");
    }

    int applied =
        Flyway.configure()
            .dataSource(h2)
            .locations("classpath:" + SqlDialect.H2.migrationFolder())
            .table("batchkit_schema_history")
            .baselineOnMigrate(true)
            .baselineVersion("0")
            .load()
            .migrate()
            .migrationsExecuted;

    assertEquals(1, applied);
    JdbcJobStore.builder(h2).build().findBatch(io.batchkit.BatchId.random()); // the tables answer
  }

  @Nested
  class OnH2 extends Migrated {
    OnH2() {
      super(SqlDialect.H2);
    }
  }

  @Nested
  class OnPostgres extends Migrated {
    OnPostgres() {
      super(SqlDialect.POSTGRESQL);
    }
  }

  @Nested
  class OnMariaDb extends Migrated {
    OnMariaDb() {
      super(SqlDialect.MYSQL);
    }
  }

  /** One database: migrated once per class, emptied before each contract test. */
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  abstract static class Migrated extends JobStoreContractTest {
    private final SqlDialect dialect;
    private final String migratedName = "fw" + suffix();
    private final String createdName = "cs" + suffix();
    private HikariDataSource admin;
    private DataSource migrated;
    private JdbcJobStore jdbcStore;

    Migrated(SqlDialect dialect) {
      this.dialect = dialect;
    }

    private static String suffix() {
      return UUID.randomUUID().toString().substring(0, 8);
    }

    @Override
    protected JobStore newStore() {
      try {
        if (jdbcStore == null) {
          migrated = isolated(migratedName);
          Flyway.configure()
              .dataSource(migrated)
              .locations("classpath:" + dialect.migrationFolder())
              .load()
              .migrate();
          jdbcStore = JdbcJobStore.builder(migrated).build(); // default prefix, no createSchema
        } else {
          TestDatabases.clear(migrated, JdbcJobStore.Builder.DEFAULT_PREFIX);
        }
        return jdbcStore;
      } catch (SQLException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    protected void closeStore() {
      // shared by the class's tests; emptied before each
    }

    @Test
    void createSchema_createsExactlyWhatTheMigrationsCreate() throws Exception {
      newStore();
      DataSource created = isolated(createdName);
      JdbcJobStore.builder(created).createSchema(true).build();

      String fromMigrations = describe(migrated, migratedName);
      String fromCreateSchema = describe(created, createdName);

      assertFalse(fromMigrations.isEmpty());
      assertEquals(fromMigrations, fromCreateSchema);
      close(created);
    }

    /**
     * An empty place for the tables: a fresh in-memory database on H2, a schema on PostgreSQL, a
     * database on MariaDB.
     */
    private DataSource isolated(String name) throws SQLException {
      switch (dialect) {
        case H2 -> {
          JdbcDataSource ds = new JdbcDataSource();
          ds.setURL("jdbc:h2:mem:" + name + ";DB_CLOSE_DELAY=-1");
          return ds;
        }
        case POSTGRESQL -> {
          HikariDataSource server = admin();
          execute(server, "CREATE SCHEMA " + name);
          return pool(server.getJdbcUrl() + "&currentSchema=" + name);
        }
        default -> {
          HikariDataSource server = admin();
          execute(server, "CREATE DATABASE " + name);
          return pool(server.getJdbcUrl().replaceFirst("/test\\?", "/" + name + "?"));
        }
      }
    }

    private HikariDataSource admin() {
      if (admin == null) {
        admin =
            dialect == SqlDialect.POSTGRESQL ? TestDatabases.postgres(2) : TestDatabases.mariadb(2);
      }
      return admin;
    }

    private static HikariDataSource pool(String url) {
      HikariConfig config = new HikariConfig();
      config.setJdbcUrl(url);
      config.setMaximumPoolSize(6);
      return new HikariDataSource(config);
    }

    /**
     * The batchkit tables of one schema, each with its columns (name, type, size, nullability) and
     * its indexes (name, uniqueness, columns in order), as sorted lines.
     */
    private String describe(DataSource ds, String name) throws SQLException {
      Set<String> lines = new TreeSet<>();
      try (Connection c = ds.getConnection()) {
        DatabaseMetaData meta = c.getMetaData();
        String catalog = dialect == SqlDialect.MYSQL ? name : null;
        String schema = dialect == SqlDialect.POSTGRESQL ? name : null;
        Set<String> tables = new TreeSet<>();
        try (ResultSet rs = meta.getTables(catalog, schema, "%", new String[] {"TABLE"})) {
          while (rs.next()) {
            String table = rs.getString("TABLE_NAME");
            if (table.toLowerCase(Locale.ROOT).startsWith("batchkit_")) {
              tables.add(table);
            }
          }
        }
        for (String table : tables) {
          String t = table.toLowerCase(Locale.ROOT);
          lines.add(t);
          try (ResultSet rs = meta.getColumns(catalog, schema, table, "%")) {
            while (rs.next()) {
              lines.add(
                  t
                      + " column "
                      + rs.getString("COLUMN_NAME").toLowerCase(Locale.ROOT)
                      + " "
                      + rs.getString("TYPE_NAME")
                      + "("
                      + rs.getInt("COLUMN_SIZE")
                      + ") nullable="
                      + rs.getString("IS_NULLABLE"));
            }
          }
          try (ResultSet rs = meta.getIndexInfo(catalog, schema, table, false, false)) {
            while (rs.next()) {
              String index = rs.getString("INDEX_NAME");
              if (index != null && !index.toLowerCase(Locale.ROOT).startsWith("primary_key_")) {
                lines.add(
                    t
                        + " index "
                        + index.toLowerCase(Locale.ROOT)
                        + " unique="
                        + !rs.getBoolean("NON_UNIQUE")
                        + " "
                        + rs.getShort("ORDINAL_POSITION")
                        + ":"
                        + rs.getString("COLUMN_NAME").toLowerCase(Locale.ROOT));
              }
            }
          }
        }
      }
      return String.join("\n", lines);
    }

    private static void execute(DataSource ds, String sql) throws SQLException {
      try (Connection c = ds.getConnection();
          Statement s = c.createStatement()) {
        s.execute(sql);
      }
    }

    private static void close(DataSource ds) throws Exception {
      if (ds instanceof AutoCloseable closeable) {
        closeable.close();
      }
    }

    @AfterAll
    void dropEverything() throws Exception {
      if (migrated != null) {
        close(migrated);
      }
      if (admin != null) {
        String kind = dialect == SqlDialect.POSTGRESQL ? "SCHEMA" : "DATABASE";
        String cascade = dialect == SqlDialect.POSTGRESQL ? " CASCADE" : "";
        execute(admin, "DROP " + kind + " IF EXISTS " + migratedName + cascade);
        execute(admin, "DROP " + kind + " IF EXISTS " + createdName + cascade);
        admin.close();
      }
    }
  }
}
