package io.batchkit.examples.plugin;

import io.batchkit.JobProcessor;
import io.batchkit.spi.JobProcessorProvider;

/**
 * A plugin: the processor for job type {@value #JOB_TYPE}, found through {@link
 * java.util.ServiceLoader} because {@code META-INF/services/io.batchkit.spi.JobProcessorProvider}
 * names this class. No code registers it; any {@code BatchService.builder().build()} with this jar
 * on its class path can run word counts.
 */
public final class WordCountProvider implements JobProcessorProvider {
  /** The job type this plugin serves. */
  public static final String JOB_TYPE = "word-count";

  /** Called by {@link java.util.ServiceLoader}. */
  public WordCountProvider() {}

  @Override
  public String jobType() {
    return JOB_TYPE;
  }

  @Override
  public JobProcessor processor() {
    return ctx -> {
      String text = ctx.payload().strip();
      return String.valueOf(text.isEmpty() ? 0 : text.split("\\s+").length);
    };
  }
}
