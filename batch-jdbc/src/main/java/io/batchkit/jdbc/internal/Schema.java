package io.batchkit.jdbc.internal;

import io.batchkit.jdbc.SqlDialect;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * Creates the tables from the schema file shipped for a dialect, with the table prefix spliced in.
 * The files are the one source of the schema: users who manage migrations take the same files.
 */
public final class Schema {
  private static final String FILE_PREFIX = "batchkit_";

  /**
   * The versions of the schema, oldest first: files of each dialect's {@link
   * SqlDialect#migrationFolder()}, which Flyway runs by their version and {@link #create} runs in
   * this order. Every statement in them must be safe to run again ({@code IF NOT EXISTS}), since
   * {@code createSchema(true)} runs them all at each start.
   */
  static final List<String> MIGRATIONS = List.of("V1__batchkit.sql");

  private Schema() {}

  /**
   * Runs every statement of the dialect's schema file, with {@code batchkit_} replaced by prefix.
   */
  public static void create(Connection connection, SqlDialect dialect, String prefix)
      throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    connection.setAutoCommit(true);
    try (Statement statement = connection.createStatement()) {
      for (String sql : statements(dialect, prefix)) {
        statement.execute(sql);
      }
    } finally {
      connection.setAutoCommit(autoCommit);
    }
  }

  /**
   * Returns the statements of the dialect's migrations ({@link #MIGRATIONS}, in order), comments
   * removed, prefix applied.
   */
  public static List<String> statements(SqlDialect dialect, String prefix) {
    List<String> statements = new ArrayList<>();
    for (String migration : MIGRATIONS) {
      statements.addAll(statements(dialect.migrationFolder() + "/" + migration, prefix));
    }
    return statements;
  }

  private static List<String> statements(String resource, String prefix) {
    String text;
    try (InputStream in = Schema.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("schema file missing from the jar: " + resource);
      }
      text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    StringBuilder body = new StringBuilder();
    for (String line : text.split("\n")) {
      String trimmed = line.strip();
      int comment = trimmed.indexOf("--");
      body.append(comment >= 0 ? trimmed.substring(0, comment) : trimmed).append('\n');
    }
    List<String> statements = new ArrayList<>();
    for (String sql : body.toString().split(";")) {
      if (!sql.isBlank()) {
        statements.add(sql.strip().replace(FILE_PREFIX, prefix));
      }
    }
    return statements;
  }
}
