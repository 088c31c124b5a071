package io.batchkit.spi;

/**
 * A registration made with {@link JobStore#subscribe} or {@link JobStore#subscribeFinished};
 * closing it ends the callbacks.
 */
@FunctionalInterface
public interface Subscription extends AutoCloseable {
  /** Ends the callbacks; calling it again does nothing. Never throws. */
  @Override
  void close();
}
