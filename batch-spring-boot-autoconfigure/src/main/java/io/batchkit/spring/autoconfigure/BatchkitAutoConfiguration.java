package io.batchkit.spring.autoconfigure;

import io.batchkit.BatchListener;
import io.batchkit.BatchService;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.micrometer.BatchkitMetrics;
import io.batchkit.spi.JobProcessorProvider;
import io.batchkit.spi.JobStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.ObservationRegistry;
import java.time.Duration;
import java.util.List;
import javax.sql.DataSource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnBooleanProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnSingleCandidate;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.util.ClassUtils;

/**
 * Makes a {@link BatchService} bean, started and stopped with the application context ({@link
 * LifecycleBatchService}): on a {@code JdbcJobStore} over the application's {@code DataSource}
 * (dialect detected), or in memory without one; with every {@link JobProcessorProvider} bean
 * registered under its job type and every {@link BatchListener} bean added; settings from {@link
 * BatchkitProperties}. A {@code BatchService} or {@code JobStore} bean of the application's own
 * replaces the default. With Actuator: the {@code batchkit} health indicator and the Micrometer
 * meters ({@code BatchkitMetrics}); with batch-web and {@code batchkit.web.enabled}: the dashboard.
 */
@AutoConfiguration(
    afterName = {
      "org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration",
      "org.springframework.boot.flyway.autoconfigure.FlywayAutoConfiguration",
      "org.springframework.boot.liquibase.autoconfigure.LiquibaseAutoConfiguration",
      "org.springframework.boot.micrometer.observation.autoconfigure.ObservationAutoConfiguration"
    })
@ConditionalOnClass(BatchService.class)
@ConditionalOnBooleanProperty(name = "batchkit.enabled", matchIfMissing = true)
@EnableConfigurationProperties(BatchkitProperties.class)
public class BatchkitAutoConfiguration {
  private static final Logger LOG = LoggerFactory.getLogger(BatchkitAutoConfiguration.class);

  private static final boolean JDBC_STORE_PRESENT =
      ClassUtils.isPresent(
          "io.batchkit.jdbc.JdbcJobStore", BatchkitAutoConfiguration.class.getClassLoader());

  /** The JDBC store, when the application has one DataSource and batch-jdbc is present. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(JdbcJobStore.class)
  @ConditionalOnSingleCandidate(DataSource.class)
  @ConditionalOnMissingBean(BatchService.class) // the application's own service has its own store
  static class JdbcStoreConfiguration {
    @Bean
    @ConditionalOnMissingBean(JobStore.class)
    JobStore batchkitJobStore(DataSource dataSource, BatchkitProperties properties) {
      return JdbcJobStore.builder(dataSource)
          .tablePrefix(properties.getJdbc().getTablePrefix())
          .createSchema(properties.getJdbc().isCreateSchema())
          .build();
    }
  }

  /** The service, built when the context starts. */
  @Bean
  @ConditionalOnMissingBean(BatchService.class)
  LifecycleBatchService batchService(
      ObjectProvider<JobStore> store,
      ObjectProvider<DataSource> dataSources,
      ObjectProvider<JobProcessorProvider> processors,
      ObjectProvider<BatchListener> listeners,
      ObjectProvider<ServiceHook> hooks,
      BatchkitProperties properties,
      Environment environment) {
    Duration phase = Settings.shutdownPhase(environment);
    return new LifecycleBatchService(
        () -> {
          BatchService.Builder builder = BatchService.builder().discoverProcessors(false);
          JobStore chosen = store.getIfAvailable();
          if (chosen != null) {
            builder.store(chosen);
          } else if (JDBC_STORE_PRESENT
              && dataSources.getIfUnique() == null
              && dataSources.stream().findAny().isPresent()) {
            LOG.warn(
                "batchkit keeps its batches in memory, lost when the application stops: it has"
                    + " several DataSources and none is @Primary; mark one, or define a JobStore"
                    + " bean");
          } else {
            LOG.info(
                "batchkit keeps its batches in memory: the application has no DataSource (or no"
                    + " batch-jdbc); they are lost when it stops");
          }
          processors.orderedStream().forEach(p -> builder.processor(p.jobType(), p.processor()));
          listeners.orderedStream().forEach(builder::listener);
          Settings.apply(properties, phase, builder);
          return builder.build();
        },
        service -> hooks.orderedStream().forEach(h -> h.started(service)),
        () -> hooks.orderedStream().forEach(ServiceHook::stopping));
  }

  /** The {@code batchkit} health indicator, with Actuator's health support. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
  @ConditionalOnBooleanProperty(name = "management.health.batchkit.enabled", matchIfMissing = true)
  static class HealthConfiguration {
    @Bean
    @ConditionalOnMissingBean(name = "batchkitHealthIndicator")
    BatchkitHealthIndicator batchkitHealthIndicator(BatchService service) {
      return new BatchkitHealthIndicator(service);
    }
  }

  /** The Micrometer meters: a MeterBinder, which Boot binds to its registries on its own. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass({MeterRegistry.class, BatchkitMetrics.class})
  @ConditionalOnMissingBean(BatchService.class) // only the service made here listens to them
  static class MetricsConfiguration {
    @Bean
    @ConditionalOnMissingBean
    BatchkitMetrics batchkitMetrics(ObjectProvider<ObservationRegistry> observations) {
      BatchkitMetrics.Builder builder = BatchkitMetrics.builder();
      observations.ifAvailable(builder::observationRegistry);
      return builder.build();
    }

    @Bean
    ServiceHook batchkitMetricsWatch(List<BatchkitMetrics> metrics) {
      return service -> metrics.forEach(m -> m.watch(service)); // the gauges read the service
    }
  }

  /**
   * The dashboard and REST API, with batch-web and {@code batchkit.web.enabled=true}: opt-in, since
   * it opens a server of its own (an application may use batch-web's handler in its own instead).
   */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "io.batchkit.web.BatchWeb")
  @ConditionalOnBooleanProperty(name = "batchkit.web.enabled")
  @ConditionalOnMissingBean(BatchService.class) // started with the service made here
  static class WebConfiguration {
    @Bean
    WebDashboard batchkitWebDashboard(BatchkitProperties properties) {
      return new WebDashboard(properties.getWeb());
    }
  }
}
