package io.batchkit.spring.autoconfigure;

import io.batchkit.BatchService;

/**
 * Something that runs beside the auto-configured service: told when it started, and before it
 * stops. A type of this package, so that the service's bean method names no optional class.
 */
interface ServiceHook {
  /** The service was built and runs. */
  void started(BatchService service);

  /** The service is about to close. */
  default void stopping() {}
}
