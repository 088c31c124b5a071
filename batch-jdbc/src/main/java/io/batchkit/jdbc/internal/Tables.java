package io.batchkit.jdbc.internal;

import io.batchkit.internal.util.Ids;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The table names of one store, with its prefix spliced in once, and the small helpers every
 * statement of the store shares: parameter lists, binding, chunked {@code IN} lists and stamps.
 * Exists so that each of these has one home, whichever part of {@link SqlJobStore} uses it. The
 * prefix is checked by {@link io.batchkit.jdbc.JdbcJobStore.Builder#tablePrefix} before it gets
 * here.
 */
final class Tables {
  static final int IN_LIST_LIMIT = 500;

  /**
   * Fencing tokens and serve stamps: increasing in this JVM and close to wall-clock microseconds,
   * so that nodes roughly agree on turns and a token is distinct from every other this JVM handed
   * out.
   */
  private static final AtomicLong STAMPS = new AtomicLong();

  final Dialect dialect;
  final String prefix;
  final String batches;
  final String jobs;
  final String metadata;
  final String nodes;
  final String requests;
  final String slots;
  final String rateBuckets;
  final String batchEvents;
  final String jobAttempts;
  final String batchWebhooks;
  final String webhookDeliveries;

  /** PostgreSQL's count of the jobs each node fetched ahead of a batch (see {@link BatchRow}). */
  final String fetched;

  /** The PostgreSQL sequence of fencing tokens (see {@link PostgresSteps}). */
  final String fencingTokens;

  Tables(Dialect dialect, String prefix) {
    this.dialect = dialect;
    this.prefix = prefix;
    this.batches = prefix + "batches";
    this.jobs = prefix + "jobs";
    this.metadata = prefix + "batch_metadata";
    this.nodes = prefix + "nodes";
    this.requests = prefix + "batch_requests";
    this.slots = prefix + "slots";
    this.rateBuckets = prefix + "rate_buckets";
    this.batchEvents = prefix + "batch_events";
    this.jobAttempts = prefix + "job_attempts";
    this.batchWebhooks = prefix + "batch_webhooks";
    this.webhookDeliveries = prefix + "webhook_deliveries";
    this.fencingTokens = prefix + "fencing_tokens";
    this.fetched = prefix + "fetched";
  }

  /** A query argument compared exactly: see {@link Dialect#setKey}. */
  record Key(String text) {}

  void bind(PreparedStatement ps, List<Object> args) throws SQLException {
    for (int i = 0; i < args.size(); i++) {
      Object arg = args.get(i);
      if (arg instanceof Instant instant) {
        dialect.setInstant(ps, i + 1, instant);
      } else if (arg instanceof UUID uuid) {
        dialect.setUuid(ps, i + 1, uuid);
      } else if (arg instanceof Integer n) {
        ps.setInt(i + 1, n);
      } else if (arg instanceof Long n) {
        ps.setLong(i + 1, n);
      } else if (arg instanceof Key key) {
        dialect.setKey(ps, i + 1, key.text());
      } else {
        ps.setString(i + 1, (String) arg);
      }
    }
  }

  void bindAll(PreparedStatement ps, Object[] args) throws SQLException {
    for (int i = 0; i < args.length; i++) {
      Object arg = args[i];
      if (arg == null) {
        ps.setString(i + 1, null);
      } else if (arg instanceof Instant instant) {
        dialect.setInstant(ps, i + 1, instant);
      } else if (arg instanceof UUID uuid) {
        dialect.setUuid(ps, i + 1, uuid);
      } else {
        ps.setString(i + 1, (String) arg);
      }
    }
  }

  @FunctionalInterface
  interface RowReader {
    void read(ResultSet rs) throws SQLException;
  }

  /**
   * Returns the distinct ids in the order the database sorts them ({@link Ids#STORE_ORDER}): the
   * order to lock rows in over several chunks of {@link #selectIn}, so that it is the order a
   * single statement's {@code ORDER BY id} takes them in.
   */
  static List<UUID> inStoreOrder(Collection<UUID> ids) {
    TreeSet<UUID> sorted = new TreeSet<>(Ids.STORE_ORDER);
    sorted.addAll(ids);
    return new ArrayList<>(sorted);
  }

  /**
   * Runs {@code head + "?, ?, ..." + tail} for the ids, in chunks of at most {@value
   * #IN_LIST_LIMIT} ids, with {@code extra} bound after the ids, and hands every row to {@code
   * reader}.
   */
  void selectIn(
      Connection c, List<UUID> ids, String head, String tail, List<Object> extra, RowReader reader)
      throws SQLException {
    for (int from = 0; from < ids.size(); from += IN_LIST_LIMIT) {
      List<UUID> part = ids.subList(from, Math.min(ids.size(), from + IN_LIST_LIMIT));
      List<Object> args = new ArrayList<>(part);
      args.addAll(extra);
      try (PreparedStatement ps = c.prepareStatement(head + params(part.size()) + tail)) {
        bind(ps, args);
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            reader.read(rs);
          }
        }
      }
    }
  }

  /**
   * Runs the change {@code head + "?, ?, ..." + tail} for the ids, in chunks of at most {@value
   * #IN_LIST_LIMIT} ids, with {@code leading} bound before the ids (the values of its {@code SET}
   * clause), and returns how many rows it changed.
   */
  long updateIn(Connection c, List<Object> leading, String head, List<UUID> ids, String tail)
      throws SQLException {
    long changed = 0;
    for (int from = 0; from < ids.size(); from += IN_LIST_LIMIT) {
      List<Object> args = new ArrayList<>(leading);
      args.addAll(ids.subList(from, Math.min(ids.size(), from + IN_LIST_LIMIT)));
      try (PreparedStatement ps =
          c.prepareStatement(head + params(args.size() - leading.size()) + tail)) {
        bind(ps, args);
        changed += ps.executeUpdate();
      }
    }
    return changed;
  }

  /**
   * Reserves {@code n} consecutive stamps, each greater than every stamp returned before, for a
   * statement that hands out several at once; returns the first.
   */
  static long reserveStamps(int n) {
    long last =
        STAMPS.updateAndGet(prev -> Math.max(prev + n, System.currentTimeMillis() * 1000 + n - 1));
    return last - n + 1;
  }

  /** Returns a stamp greater than {@code previous} and than every stamp returned before. */
  static long nextStamp(long previous) {
    long stamp = STAMPS.updateAndGet(last -> Math.max(last + 1, System.currentTimeMillis() * 1000));
    return Math.max(stamp, previous + 1);
  }

  static String params(int n) {
    return String.join(", ", Collections.nCopies(n, "?"));
  }
}
