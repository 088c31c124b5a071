package io.batchkit.internal.scheduler;

import io.batchkit.BatchRequest;
import io.batchkit.JobProcessor;
import io.batchkit.internal.util.Checks;
import io.batchkit.spi.JobProcessorProvider;
import java.util.HashMap;
import java.util.Map;
import java.util.ServiceLoader;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where processors are found on the class path: the {@link JobProcessorProvider}s that {@link
 * ServiceLoader} finds, once, when a service is built.
 *
 * <p>Ownership: it has no state; any thread may call it.
 */
public final class ProcessorDiscovery {
  /** Logs under the service's name, as it did when this was part of the service. */
  private static final Logger LOG = LoggerFactory.getLogger(DefaultBatchService.class);

  private ProcessorDiscovery() {}

  /**
   * Adds the processors of every {@link JobProcessorProvider} on the class path to {@code
   * processors}, refusing a job type that is already there.
   */
  public static void discover(Map<String, JobProcessor> processors) {
    Map<String, String> sources = new HashMap<>();
    processors
        .keySet()
        .forEach(type -> sources.put(type, "Builder.processor(\"" + type + "\", ...)"));
    for (JobProcessorProvider provider : ServiceLoader.load(JobProcessorProvider.class)) {
      String source = provider.getClass().getName();
      String type =
          Checks.notBlank(
              provider.jobType(), source + ".jobType()", BatchRequest.MAX_JOB_TYPE_LENGTH);
      if (sources.containsKey(type)) {
        throw new IllegalArgumentException(
            "job type '" + type + "' has two processors: " + sources.get(type) + " and " + source);
      }
      processors.put(type, Checks.notNull(provider.processor(), source + ".processor()"));
      sources.put(type, source);
      LOG.info("found JobProcessorProvider {} for job type '{}'", source, type);
    }
  }
}
