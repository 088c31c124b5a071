package io.batchkit.jdbc.internal;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.Webhook;
import io.batchkit.internal.util.Checks;
import io.batchkit.internal.util.Webhooks;
import io.batchkit.spi.WebhookDelivery;
import java.net.URI;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Where webhook notifications wait to be sent: a batch's webhooks are written with the batch
 * ({@code batch_webhooks}); each step that records an event of the batch one of them is told of
 * writes its deliveries ({@code webhook_deliveries}) on the same connection, in the same
 * transaction, so a notification is stored exactly when its event is (an event is recorded once:
 * its step holds the batch row's lock). The senders claim them under a lease and record each try.
 * Holds no state but the tables' names.
 */
final class WebhookOutbox {
  private final Tables tables;
  private final Dialect dialect;

  WebhookOutbox(Tables tables) {
    this.tables = tables;
    this.dialect = tables.dialect;
  }

  /** Writes a new batch's webhooks: one row per webhook and event it is told of. */
  void store(Connection c, BatchId batchId, List<Webhook> webhooks) throws SQLException {
    if (webhooks.isEmpty()) {
      return;
    }
    String sql =
        "INSERT INTO "
            + tables.batchWebhooks
            + " (batch_id, event, position, url) VALUES (?, ?, ?, ?)";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      for (int i = 0; i < webhooks.size(); i++) {
        for (BatchEvent.Type event : webhooks.get(i).events()) {
          dialect.setUuid(ps, 1, batchId.value());
          ps.setString(2, event.name());
          ps.setInt(3, i);
          ps.setString(4, webhooks.get(i).url().toString());
          ps.addBatch();
        }
      }
      ps.executeBatch();
    }
  }

  /**
   * Writes the deliveries of {@code event} to the batch's webhooks told of it, with {@code batch}
   * (the batch as the event left it) in the body, in one statement; none, and no statement, when
   * the batch's {@code webhookEvents} bits say that no webhook is told of it.
   */
  void enqueue(Connection c, BatchEvent event, Batch batch, int webhookEvents) throws SQLException {
    if (!Webhooks.toldOf(webhookEvents, event.type())) {
      return;
    }
    String sql =
        "INSERT INTO "
            + tables.webhookDeliveries
            + " (batch_id, event, url, body, created_at, due_at, attempts)"
            + " SELECT batch_id, event, url, ?, ?, ?, 0 FROM "
            + tables.batchWebhooks
            + " WHERE batch_id = ? AND event = ? ORDER BY position";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, Webhooks.body(event, batch));
      dialect.setInstant(ps, 2, event.at());
      dialect.setInstant(ps, 3, event.at());
      dialect.setUuid(ps, 4, event.batchId().value());
      ps.setString(5, event.type().name());
      ps.executeUpdate();
    }
  }

  /**
   * Claims up to {@code max} due deliveries, oldest due first, leasing each until {@code
   * leaseUntil}: a delivery is taken only if no other claim moved it meanwhile (its try count is
   * still the one read), so two services never both hold it.
   */
  List<WebhookDelivery> claim(Connection c, Instant now, Instant leaseUntil, int max)
      throws SQLException {
    List<WebhookDelivery> due = new ArrayList<>();
    List<Long> unreadable = new ArrayList<>();
    String find =
        "SELECT id, batch_id, event, url, body, attempts FROM "
            + tables.webhookDeliveries
            + " WHERE due_at <= ? ORDER BY due_at, id LIMIT ?";
    try (PreparedStatement ps = c.prepareStatement(find)) {
      dialect.setInstant(ps, 1, now);
      ps.setInt(2, max);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          long id = rs.getLong("id");
          try {
            due.add(
                new WebhookDelivery(
                    id,
                    new BatchId(dialect.getUuid(rs, "batch_id")),
                    BatchEvent.Type.valueOf(rs.getString("event")),
                    URI.create(rs.getString("url")),
                    rs.getString("body"),
                    rs.getInt("attempts") + 1));
          } catch (IllegalArgumentException e) {
            unreadable.add(
                id); // written by another version, or by hand: it must not block the rest
          }
        }
      }
    }
    for (long id : unreadable) {
      giveUp(c, id, "unreadable row, given up");
    }
    List<WebhookDelivery> claimed = new ArrayList<>(due.size());
    String take =
        "UPDATE "
            + tables.webhookDeliveries
            + " SET attempts = ?, due_at = ? WHERE id = ? AND attempts = ? AND due_at <= ?";
    try (PreparedStatement ps = c.prepareStatement(take)) {
      for (WebhookDelivery delivery : due) {
        ps.setInt(1, delivery.attempt());
        dialect.setInstant(ps, 2, leaseUntil);
        ps.setLong(3, delivery.id());
        ps.setInt(4, delivery.attempt() - 1);
        dialect.setInstant(ps, 5, now);
        if (ps.executeUpdate() == 1) {
          claimed.add(delivery);
        }
      }
    }
    return claimed;
  }

  private void giveUp(Connection c, long id, String error) throws SQLException {
    String sql =
        "UPDATE " + tables.webhookDeliveries + " SET due_at = NULL, last_error = ? WHERE id = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setString(1, error);
      ps.setLong(2, id);
      ps.executeUpdate();
    }
  }

  /** Deletes a delivered delivery, if the claim is still its latest try. */
  boolean delivered(Connection c, WebhookDelivery delivery) throws SQLException {
    String sql = "DELETE FROM " + tables.webhookDeliveries + " WHERE id = ? AND attempts = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setLong(1, delivery.id());
      ps.setInt(2, delivery.attempt());
      return ps.executeUpdate() == 1;
    }
  }

  /**
   * Records a failed try, if the claim is still the delivery's latest: due again at {@code
   * retryAt}, or never (its tries ran out), with the error.
   */
  boolean failed(Connection c, WebhookDelivery delivery, String error, Optional<Instant> retryAt)
      throws SQLException {
    String sql =
        "UPDATE "
            + tables.webhookDeliveries
            + " SET due_at = ?, last_error = ? WHERE id = ? AND attempts = ?";
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setInstant(ps, 1, retryAt.orElse(null));
      String cut =
          error.length() > BatchEvent.MAX_DETAIL_LENGTH
              ? error.substring(0, BatchEvent.MAX_DETAIL_LENGTH)
              : error;
      ps.setString(2, Checks.replaceUnstorable(cut));
      ps.setLong(3, delivery.id());
      ps.setInt(4, delivery.attempt());
      return ps.executeUpdate() == 1;
    }
  }

  /** Deletes up to {@code max} given-up deliveries written before {@code before}. */
  int purge(Connection c, Instant before, int max) throws SQLException {
    String sql =
        dialect.deleteSome(
            tables.webhookDeliveries, "due_at IS NULL AND created_at < ?", "created_at, id");
    try (PreparedStatement ps = c.prepareStatement(sql)) {
      dialect.setInstant(ps, 1, before);
      ps.setInt(2, max);
      return ps.executeUpdate();
    }
  }
}
