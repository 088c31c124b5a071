package io.batchkit;

import io.batchkit.internal.util.Checks;
import java.net.URI;
import java.util.Collections;
import java.util.EnumSet;
import java.util.Set;

/**
 * An address that is told, by an HTTP {@code POST}, when a batch starts, is cancelled or finishes.
 * A batch's webhooks are stored with it when it is created: those of its request ({@link
 * BatchRequest.Builder#webhook}) and those of the service that created it ({@link
 * BatchService.Builder#webhook}). Each notification is written to the store in the same step as the
 * change it reports, so it is written exactly once per change, whichever node makes the change, and
 * is not lost if that node dies before sending it. It is delivered at least once: a failed try is
 * tried again with backoff, and a sender that dies during a try leaves it to another, so a receiver
 * may see it twice and drops the repeat by its {@code Batchkit-Delivery} id. A batch's
 * notifications may arrive out of order; each carries the time of its event. The body, its
 * signature and the retries are described in the README's section on webhooks.
 *
 * @param url where the notification is posted: an absolute {@code http} or {@code https} address,
 *     at most {@value #MAX_URL_LENGTH} characters
 * @param events the batch events it is told of, among {@link #EVENTS}
 */
public record Webhook(URI url, Set<BatchEvent.Type> events) {
  /** The longest address, in characters. */
  public static final int MAX_URL_LENGTH = 2_000;

  /** The most webhooks one batch has, its request's and its service's together. */
  public static final int MAX_PER_BATCH = 10;

  /** The events a webhook can be told of: a batch started, was cancelled, or finished. */
  public static final Set<BatchEvent.Type> EVENTS =
      Collections.unmodifiableSet(
          EnumSet.of(BatchEvent.Type.STARTED, BatchEvent.Type.CANCELLED, BatchEvent.Type.FINISHED));

  /**
   * Creates a webhook; copies {@code events}.
   *
   * @throws NullPointerException if an argument or an event is null
   * @throws IllegalArgumentException if {@code url} is not an absolute {@code http} or {@code
   *     https} address with a host, or is longer than {@value #MAX_URL_LENGTH} characters, or if
   *     {@code events} is empty or holds an event not in {@link #EVENTS}
   */
  public Webhook {
    checkUrl(url);
    Checks.notNull(events, "events");
    for (BatchEvent.Type event : events) {
      Checks.notNull(event, "events[]");
      if (!EVENTS.contains(event)) {
        throw new IllegalArgumentException(
            "a webhook is told of " + EVENTS + " only, not " + event);
      }
    }
    if (events.isEmpty()) {
      throw new IllegalArgumentException("a webhook needs at least one event, among " + EVENTS);
    }
    events = Collections.unmodifiableSet(EnumSet.copyOf(events));
  }

  /**
   * A webhook told when a batch finishes, whatever its final status.
   *
   * @throws NullPointerException if {@code url} is null
   * @throws IllegalArgumentException as the constructor
   */
  public static Webhook onFinish(URI url) {
    return new Webhook(url, EnumSet.of(BatchEvent.Type.FINISHED));
  }

  /** Returns whether this webhook is told of {@code event}; false for null. */
  public boolean isToldOf(BatchEvent.Type event) {
    return events.contains(event);
  }

  /** Shows the address's scheme and host only: its path or query may hold a credential. */
  @Override
  public String toString() {
    return "Webhook{url=" + url.getScheme() + "://" + url.getHost() + "/…, events=" + events + "}";
  }

  private static void checkUrl(URI url) {
    Checks.notNull(url, "url");
    String scheme = url.getScheme();
    if (!url.isAbsolute()
        || !("http".equalsIgnoreCase(scheme) || "https".equalsIgnoreCase(scheme))
        || url.getHost() == null) {
      // the address is not repeated: it may hold a credential (a Slack-style hook's path)
      throw new IllegalArgumentException(
          "a webhook's url must be an absolute http or https address with a host");
    }
    if (url.toString().length() > MAX_URL_LENGTH) {
      throw new IllegalArgumentException(
          "a webhook's url must have at most " + MAX_URL_LENGTH + " characters");
    }
  }
}
