package io.batchkit.spring.autoconfigure;

import io.batchkit.JobProcessor;
import io.batchkit.spi.JobProcessorProvider;

/**
 * A provider listed for the ServiceLoader (test resources), under the job type a bean of the tests
 * also has: the auto-configuration must take processors from beans only, or the two would clash.
 */
public final class ListedEchoProvider implements JobProcessorProvider {
  @Override
  public String jobType() {
    return "echo";
  }

  @Override
  public JobProcessor processor() {
    return ctx -> "from the ServiceLoader";
  }
}
