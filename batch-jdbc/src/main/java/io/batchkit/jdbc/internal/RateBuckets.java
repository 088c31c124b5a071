package io.batchkit.jdbc.internal;

import io.batchkit.spi.SharedRateLimit;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Where rate limits held for all nodes take their tokens: the rows of {@code <prefix>rate_buckets}
 * (see {@link SharedRateLimit}). A claim {@link #open}s the buckets its candidate batches draw from
 * (creating the missing ones, then locking them in key order, after its batch rows, which every
 * claim locks first), takes tokens as it hands out jobs, and {@link Open#write}s them back before
 * its transaction commits.
 */
final class RateBuckets {
  private final Tables tables;
  private final Dialect dialect;

  RateBuckets(Tables tables) {
    this.tables = tables;
    this.dialect = tables.dialect;
  }

  /** The buckets one claim drew from, refilled to {@code now}; changed as it takes tokens. */
  final class Open {
    private final Map<String, Double> tokens;

    /** Each bucket's new stamp: the later of its stored stamp and this claim's time. */
    private final Map<String, Instant> stamps;

    private Open(Map<String, Double> tokens, Map<String, Instant> stamps) {
      this.tokens = tokens;
      this.stamps = stamps;
    }

    /** Returns how many whole tokens bucket {@code key} holds. */
    int available(String key) {
      return (int) Math.floor(tokens.getOrDefault(key, 0.0));
    }

    /** Takes {@code n} tokens from bucket {@code key}. */
    void take(String key, int n) {
      tokens.merge(key, (double) -n, Double::sum);
    }

    /**
     * Writes the buckets back. A stamp never moves back: a node whose clock is behind would
     * otherwise let the next node, whose clock is ahead, count the difference as refill again.
     */
    void write(Connection c) throws SQLException {
      if (tokens.isEmpty()) {
        return;
      }
      String sql =
          "UPDATE " + tables.rateBuckets + " SET tokens = ?, updated_at = ? WHERE bucket_key = ?";
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        for (Map.Entry<String, Double> e : tokens.entrySet()) {
          ps.setDouble(1, e.getValue());
          dialect.setInstant(ps, 2, stamps.get(e.getKey()));
          ps.setString(3, e.getKey());
          ps.addBatch();
        }
        ps.executeBatch();
      }
    }
  }

  /**
   * Creates the missing buckets of {@code limits} (key to the limit it follows), locks them all in
   * key order and refills them to {@code now}.
   */
  Open open(Connection c, Map<String, SharedRateLimit> limits, Instant now) throws SQLException {
    Map<String, SharedRateLimit> sorted = new TreeMap<>(limits);
    Map<String, Double> tokens = new HashMap<>();
    Map<String, Instant> stamps = new HashMap<>();
    if (sorted.isEmpty()) {
      return new Open(tokens, stamps);
    }
    String create =
        dialect.insertUnlessPresent(
            tables.rateBuckets,
            "bucket_key",
            "bucket_key, tokens, updated_at",
            "?, -1.0, ?",
            "CAST(? AS VARCHAR(64)), CAST(-1.0 AS DOUBLE PRECISION),"
                + " CAST(? AS TIMESTAMP WITH TIME ZONE)");
    try (PreparedStatement ps = c.prepareStatement(create)) {
      for (String key : sorted.keySet()) {
        ps.setString(1, key);
        dialect.setInstant(ps, 2, now);
        ps.addBatch();
      }
      ps.executeBatch();
    }
    List<String> keys = new ArrayList<>(sorted.keySet());
    String lock =
        "SELECT bucket_key, tokens, updated_at FROM "
            + tables.rateBuckets
            + " WHERE bucket_key IN ("
            + Tables.params(keys.size())
            + ") ORDER BY bucket_key FOR UPDATE";
    try (PreparedStatement ps = c.prepareStatement(lock)) {
      for (int i = 0; i < keys.size(); i++) {
        ps.setString(i + 1, keys.get(i));
      }
      try (var rs = ps.executeQuery()) {
        while (rs.next()) {
          String key = rs.getString("bucket_key");
          Instant at = dialect.getInstant(rs, "updated_at");
          long elapsed = Duration.between(at, now).toNanos();
          tokens.put(key, sorted.get(key).refill(rs.getDouble("tokens"), elapsed));
          stamps.put(key, at.isAfter(now) ? at : now);
        }
      }
    }
    return new Open(tokens, stamps);
  }
}
