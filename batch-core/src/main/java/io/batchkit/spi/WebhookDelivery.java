package io.batchkit.spi;

import io.batchkit.BatchEvent;
import io.batchkit.BatchId;
import io.batchkit.internal.util.Checks;
import java.net.URI;

/**
 * One notification of a batch's event to one webhook, as {@link JobStore#claimWebhookDeliveries}
 * hands it to a service to send. The store wrote it in the step that recorded the event; it stays
 * until a try delivers it or the tries run out.
 *
 * @param id the delivery, unique in its store; receivers see it in the {@code Batchkit-Delivery}
 *     header and can drop a repeat by it
 * @param batchId the batch
 * @param event what happened to the batch
 * @param url where it is posted
 * @param body the JSON posted: the event and the batch as it was when the event was recorded
 * @param attempt the try this claim makes, from 1; the result of the try is recorded only while it
 *     is the delivery's latest (a claim whose lease ran out cannot overwrite a newer one's)
 */
public record WebhookDelivery(
    long id, BatchId batchId, BatchEvent.Type event, URI url, String body, int attempt) {
  /**
   * Creates the record.
   *
   * @throws NullPointerException if an argument is null
   * @throws IllegalArgumentException if {@code attempt} is not positive
   */
  public WebhookDelivery {
    Checks.notNull(batchId, "batchId");
    Checks.notNull(event, "event");
    Checks.notNull(url, "url");
    Checks.notNull(body, "body");
    Checks.positive(attempt, "attempt");
  }

  /** Leaves the body out: it holds the batch's metadata. */
  @Override
  public String toString() {
    return "WebhookDelivery{id="
        + id
        + ", batch="
        + batchId
        + ", event="
        + event
        + ", host="
        + url.getHost()
        + ", attempt="
        + attempt
        + "}";
  }
}
