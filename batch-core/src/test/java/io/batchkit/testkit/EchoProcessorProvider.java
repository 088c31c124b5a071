package io.batchkit.testkit;

import io.batchkit.JobProcessor;
import io.batchkit.spi.JobProcessorProvider;

/** A plugin found through {@code META-INF/services}: proves discovery without registration. */
public final class EchoProcessorProvider implements JobProcessorProvider {
  /** The job type this provider serves. */
  public static final String JOB_TYPE = "testkit-echo";

  @Override
  public String jobType() {
    return JOB_TYPE;
  }

  @Override
  public JobProcessor processor() {
    return ctx -> "echo:" + ctx.payload();
  }
}
