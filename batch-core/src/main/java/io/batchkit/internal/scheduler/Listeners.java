package io.batchkit.internal.scheduler;

import io.batchkit.BatchListener;
import java.util.List;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The one guard every call into a user's {@link BatchListener} goes through. */
final class Listeners {
  private static final Logger LOG = LoggerFactory.getLogger(Listeners.class);

  private final List<BatchListener> listeners;

  Listeners(List<BatchListener> listeners) {
    this.listeners = listeners;
  }

  /** Calls {@code event} on each listener; a listener that throws is logged and skipped. */
  void fire(String event, Object id, Consumer<BatchListener> call) {
    for (BatchListener listener : listeners) {
      try {
        call.accept(listener);
      } catch (Throwable e) {
        // even an Error: scheduling must go on, and the caller's bookkeeping must finish
        try {
          LOG.warn("BatchListener {} threw from {} for {}; ignored", listener, event, id, e);
        } catch (Throwable unloggable) {
          // e.g. an exception whose getMessage() throws: the logger could not print it
        }
      }
    }
  }
}
