package io.batchkit.jdbc;

/**
 * The databases {@link JdbcJobStore} speaks to. Detected from the connection's metadata unless set
 * with {@link JdbcJobStore.Builder#dialect(SqlDialect)}.
 */
public enum SqlDialect {
  /** PostgreSQL 12 or later. */
  POSTGRESQL("postgresql"),
  /** MySQL 8 or later, and MariaDB 10.6 or later. */
  MYSQL("mysql"),
  /** H2 2.2 or later: the embedded default. */
  H2("h2");

  private final String folder;

  SqlDialect(String folder) {
    this.folder = folder;
  }

  /**
   * Returns the class-path folder of this dialect's versioned schema migrations, with tables named
   * {@code batchkit_*}: {@code io/batchkit/jdbc/migration/<dialect>} ({@code postgresql}, {@code
   * mysql} or {@code h2}), holding {@code V1__batchkit.sql} and the later versions. Give it to
   * Flyway as {@code classpath:io/batchkit/jdbc/migration/<dialect>}. It is not under {@code
   * db/migration}, where an application's own Flyway looks by default, with every subfolder.
   */
  public String migrationFolder() {
    return "io/batchkit/jdbc/migration/" + folder;
  }

  /**
   * Returns the dialect for a product name as {@link
   * java.sql.DatabaseMetaData#getDatabaseProductName()} reports it.
   *
   * @throws NullPointerException if {@code productName} is null
   * @throws IllegalArgumentException if the product is not supported
   */
  public static SqlDialect forProductName(String productName) {
    String name = productName.toLowerCase(java.util.Locale.ROOT);
    if (name.contains("postgresql")) {
      return POSTGRESQL;
    }
    if (name.contains("mysql") || name.contains("mariadb")) {
      return MYSQL;
    }
    if (name.equals("h2")) {
      return H2;
    }
    throw new IllegalArgumentException(
        "unsupported database '"
            + productName
            + "': batchkit supports PostgreSQL, MySQL, MariaDB and H2");
  }
}
