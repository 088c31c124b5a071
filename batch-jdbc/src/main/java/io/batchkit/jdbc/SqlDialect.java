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
   * Returns the class-path location of this dialect's schema file, with tables named {@code
   * batchkit_*}: {@code META-INF/batchkit/sql/<dialect>/schema.sql}.
   */
  public String schemaResource() {
    return "META-INF/batchkit/sql/" + folder + "/schema.sql";
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
