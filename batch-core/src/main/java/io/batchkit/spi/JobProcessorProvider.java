package io.batchkit.spi;

import io.batchkit.JobProcessor;

/**
 * Supplies a {@link JobProcessor} for one job type from a plugin jar. List the implementation in
 * {@code META-INF/services/io.batchkit.spi.JobProcessorProvider}; {@code BatchService.builder()}
 * finds it through {@link java.util.ServiceLoader} when the service is built (unless discovery is
 * turned off). An implementation needs a public no-argument constructor.
 */
public interface JobProcessorProvider {
  /** Returns the job type this provider serves: non-blank, at most 100 characters. */
  String jobType();

  /** Returns the processor; called once per service. */
  JobProcessor processor();
}
