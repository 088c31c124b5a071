package io.batchkit.jdbc;

import io.batchkit.internal.util.Checks;
import io.batchkit.jdbc.internal.Dialect;
import io.batchkit.jdbc.internal.PoolCheck;
import io.batchkit.jdbc.internal.Schema;
import io.batchkit.jdbc.internal.SqlJobStore;
import io.batchkit.spi.JobStore;
import io.batchkit.spi.JobStoreException;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A durable {@link JobStore} on PostgreSQL, MySQL/MariaDB or H2, shared safely by any number of
 * services on any number of nodes.
 *
 * <pre>{@code
 * JobStore store = JdbcJobStore.builder(dataSource).createSchema(true).build();
 * BatchService service = BatchService.builder().store(store).processor("email", sender).build();
 * }</pre>
 *
 * <p>Jobs are claimed in groups under a lease with a fencing token, outcomes are written in groups,
 * and each batch row keeps exact per-status counters, so {@code getBatch} reads one row. On
 * PostgreSQL a claim is one statement: it locks the candidate batch rows, picks their due jobs in
 * order with {@code FOR UPDATE SKIP LOCKED}, leases them and updates the counters; recording a
 * group of outcomes is one statement too, and nodes hear of new work and of finished batches
 * through {@code LISTEN/NOTIFY}. On H2 and MySQL/MariaDB the same steps take a few statements in
 * one transaction, and nodes poll. Nodes register in a table of their own ({@code <prefix>nodes});
 * on PostgreSQL and MySQL/MariaDB each holds a session lock, so that the jobs of a node that dies
 * come back within about a second and a half (see {@link Builder#sessionLiveness}). The store never
 * closes the {@link DataSource}: use a pool (HikariCP or your container's) for real work. With an
 * H2 file database that the service is closed from a shutdown hook, add {@code
 * ;DB_CLOSE_ON_EXIT=FALSE} to the URL, or H2 closes the database first. Thread-safe.
 */
public interface JdbcJobStore extends JobStore {

  /**
   * Starts a builder for a store on {@code dataSource}.
   *
   * @throws NullPointerException if {@code dataSource} is null
   */
  static Builder builder(DataSource dataSource) {
    return new Builder(dataSource);
  }

  /** Returns the dialect in use. */
  SqlDialect dialect();

  /** Returns the table-name prefix in use. */
  String tablePrefix();

  /** Builds a {@link JdbcJobStore}. Setters check their argument at once. Not thread-safe. */
  final class Builder {
    private static final Logger LOG = LoggerFactory.getLogger(JdbcJobStore.class);

    /** The prefix of the shipped schema files, replaced by {@link #tablePrefix(String)}. */
    public static final String DEFAULT_PREFIX = "batchkit_";

    private final DataSource dataSource;
    private SqlDialect dialect;
    private String prefix = DEFAULT_PREFIX;
    private boolean createSchema;
    private boolean asynchronousJobCommits = true;
    private boolean sessionLiveness = true;

    private Builder(DataSource dataSource) {
      this.dataSource = Checks.notNull(dataSource, "dataSource");
    }

    /**
     * Sets the dialect instead of detecting it from the connection's metadata.
     *
     * @throws NullPointerException if {@code dialect} is null
     */
    public Builder dialect(SqlDialect dialect) {
      this.dialect = Checks.notNull(dialect, "dialect");
      return this;
    }

    /**
     * Sets the prefix of the table names (default {@value #DEFAULT_PREFIX}), so that several
     * independent stores can share one schema.
     *
     * @throws NullPointerException if {@code prefix} is null
     * @throws IllegalArgumentException unless it is a letter followed by letters, digits or
     *     underscores, at most 30 characters
     */
    public Builder tablePrefix(String prefix) {
      this.prefix = Checks.identifier(prefix, "tablePrefix", 30);
      return this;
    }

    /**
     * Sets whether {@link #build()} creates the tables and indexes that are missing (default false:
     * the schema is expected to exist, for example from the Flyway migrations under {@code
     * io/batchkit/jdbc/migration/<dialect>}: see {@link SqlDialect#migrationFolder()}). It runs the
     * same files, so it creates exactly what the migrations create.
     */
    public Builder createSchema(boolean create) {
      this.createSchema = create;
      return this;
    }

    /**
     * Sets whether, on PostgreSQL, the transactions that claim jobs and record their outcomes
     * commit without waiting for the write-ahead log to reach disk ({@code synchronous_commit} off,
     * for those transactions only; default true). Every other step (creating, starting, cancelling,
     * retrying and deleting a batch, and the step that finishes a batch) waits for the flush as
     * usual, and the log is written in order, so everything before a durable step is durable too.
     *
     * <p>What it trades: if the database <em>server</em> crashes (not a node), the claims and
     * outcomes of its last fraction of a second are forgotten. Those jobs are then queued again or
     * leased to a node that no longer runs them, and run again once their lease expires, exactly as
     * after a node crash; jobs run at least once either way. What it buys: a busy batch's row is no
     * longer held through a disk flush per transaction, which is what serialises the nodes sharing
     * it. Other databases ignore the setting.
     */
    public Builder asynchronousJobCommits(boolean enabled) {
      this.asynchronousJobCommits = enabled;
      return this;
    }

    /**
     * Sets whether, on PostgreSQL and MySQL/MariaDB, each node holds a session lock that tells the
     * others it is alive (default true). Each store instance then keeps one connection of its
     * {@code DataSource} open, in auto-commit, for as long as a service registered through it runs.
     * The server releases a session's locks as soon as the session ends, which happens the moment a
     * node's process dies: the other nodes see the free lock, wait a grace period of 0.7 s (so that
     * a node whose connection broke for a moment can take its lock again), and then take its jobs
     * back, within about 1.5 s of the kill and whatever the lease duration. A node that holds its
     * lock keeps its jobs past their lease while it has reported within the last minute, so a GC
     * pause, a slow statement or a frozen process does not make its jobs run twice; a process that
     * hangs with its connection open stops reporting, and after that minute the lease decides
     * again. The lease remains the rule for nodes without a lock, and on H2.
     *
     * <p>Turn it off when connections go through a pooler in transaction mode (PgBouncer's {@code
     * pool_mode=transaction}), where a session lock stays with a server connection that other
     * clients reuse. Without it, a dead node's jobs come back when their lease expires; nodes with
     * it and nodes without it may share a store. One limit stays: a host that loses power or its
     * network holds its session until the server's TCP keepalive gives up on it (PostgreSQL's
     * {@code tcp_keepalives_idle}, the operating system's default of two hours otherwise), and
     * until then its jobs wait for their lease as well, or for the minute without reports.
     */
    public Builder sessionLiveness(boolean enabled) {
      this.sessionLiveness = enabled;
      return this;
    }

    /**
     * Detects the dialect (unless set), creates the schema if asked, and returns the store. Logs
     * one WARN if {@code dataSource} does not pool its connections (closing a connection it gave
     * closes the database connection too, as with {@code PGSimpleDataSource} or H2's {@code
     * JdbcDataSource}): the store then opens a connection per transaction, many times slower.
     *
     * @throws JobStoreException if the database cannot be reached or the schema cannot be created
     * @throws IllegalArgumentException if the database is not one batchkit supports
     */
    public JdbcJobStore build() {
      SqlDialect chosen = dialect;
      Connection physical;
      try (Connection connection = dataSource.getConnection()) {
        physical = PoolCheck.physical(connection);
        String product = connection.getMetaData().getDatabaseProductName();
        if (chosen == null) {
          chosen = SqlDialect.forProductName(product);
        }
        LOG.info(
            "batchkit JDBC store on {} {}: dialect {}, table prefix '{}'",
            product,
            connection.getMetaData().getDatabaseProductVersion(),
            chosen,
            prefix);
        if (createSchema) {
          Schema.create(connection, chosen, prefix);
        }
      } catch (SQLException e) {
        throw new JobStoreException(
            "build", true, "cannot prepare the database: " + e.getMessage(), e);
      }
      if (PoolCheck.closedWithHandle(physical)) {
        PoolCheck.warnNotPooled(dataSource);
      }
      return new SqlJobStore(
          dataSource, new Dialect(chosen), prefix, asynchronousJobCommits, sessionLiveness);
    }

    @Override
    public String toString() {
      return "JdbcJobStore.Builder{prefix="
          + prefix
          + (dialect == null ? "" : ", dialect=" + dialect)
          + (createSchema ? ", createSchema" : "")
          + (asynchronousJobCommits ? "" : ", synchronous job commits")
          + (sessionLiveness ? "" : ", no session liveness")
          + "}";
    }
  }
}
