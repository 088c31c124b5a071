package io.batchkit.internal.memory;

import io.batchkit.Batch;
import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.Webhook;
import io.batchkit.internal.util.Webhooks;
import io.batchkit.spi.WebhookDelivery;
import java.net.URI;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The webhook deliveries of the {@link InMemoryJobStore}: written by the store's steps that record
 * an event (under the store's lock), then claimed, delivered and failed by the services' senders. A
 * class of its own so that "where do notifications wait" is found by name.
 *
 * <p>Ownership: every field is guarded by this object's monitor, which the store takes after its
 * own lock and never the other way round.
 */
final class InMemoryWebhooks {
  /** A delivery waiting to be sent, or given up ({@code dueAt} null). */
  private static final class Pending {
    final long id;
    final BatchId batchId;
    final BatchEvent.Type event;
    final URI url;
    final String body;
    final Instant createdAt;
    int attempts;
    Instant dueAt;

    Pending(long id, BatchId batchId, BatchEvent.Type event, URI url, String body, Instant at) {
      this.id = id;
      this.batchId = batchId;
      this.event = event;
      this.url = url;
      this.body = body;
      this.createdAt = at;
      this.dueAt = at;
    }
  }

  private final Map<Long, Pending> pending = new LinkedHashMap<>();
  private long lastId;

  /** Writes a delivery of {@code event} to each of {@code webhooks} told of it. */
  synchronized void enqueue(List<Webhook> webhooks, BatchEvent event, Batch batch) {
    String body = Webhooks.body(event, batch);
    for (Webhook webhook : webhooks) {
      if (webhook.isToldOf(event.type())) {
        long id = ++lastId;
        pending.put(
            id, new Pending(id, event.batchId(), event.type(), webhook.url(), body, event.at()));
      }
    }
  }

  synchronized List<WebhookDelivery> claim(Instant now, Instant leaseUntil, int max) {
    List<Pending> due = new ArrayList<>();
    for (Pending p : pending.values()) {
      if (p.dueAt != null && !p.dueAt.isAfter(now)) {
        due.add(p);
      }
    }
    due.sort(Comparator.comparing((Pending p) -> p.dueAt).thenComparingLong(p -> p.id));
    List<WebhookDelivery> claimed = new ArrayList<>();
    for (Pending p : due.subList(0, Math.min(max, due.size()))) {
      p.attempts++;
      p.dueAt = leaseUntil;
      claimed.add(new WebhookDelivery(p.id, p.batchId, p.event, p.url, p.body, p.attempts));
    }
    return claimed;
  }

  synchronized boolean delivered(WebhookDelivery delivery) {
    Pending p = current(delivery);
    if (p == null) {
      return false;
    }
    pending.remove(p.id);
    return true;
  }

  synchronized boolean failed(WebhookDelivery delivery, String error, Optional<Instant> retryAt) {
    Pending p = current(delivery);
    if (p == null) {
      return false;
    }
    p.dueAt = retryAt.orElse(null); // the error is logged by the sender; nothing here shows it
    return true;
  }

  /** Deletes up to {@code max} given-up deliveries written before {@code before}. */
  synchronized int purge(Instant before, int max) {
    int deleted = 0;
    Iterator<Pending> it = pending.values().iterator();
    while (it.hasNext() && deleted < max) {
      Pending p = it.next();
      if (p.dueAt == null && p.createdAt.isBefore(before)) {
        it.remove();
        deleted++;
      }
    }
    return deleted;
  }

  /** The delivery if {@code claim} is still its latest try, else null. */
  private Pending current(WebhookDelivery claim) {
    Pending p = pending.get(claim.id());
    return p != null && p.attempts == claim.attempt() ? p : null;
  }
}
