package io.batchkit.spring.autoconfigure;

import io.batchkit.BatchListener;
import io.batchkit.BatchService;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.micrometer.BatchkitMetrics;
import io.batchkit.spi.JobProcessorProvider;
import io.batchkit.spi.JobStore;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.observation.ObservationRegistry;
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

  /** The JDBC store, when the application has one DataSource and batch-jdbc is present. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(JdbcJobStore.class)
  @ConditionalOnSingleCandidate(DataSource.class)
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
      ObjectProvider<JobProcessorProvider> processors,
      ObjectProvider<BatchListener> listeners,
      ObjectProvider<ServiceHook> hooks,
      BatchkitProperties properties) {
    return new LifecycleBatchService(
        () -> {
          BatchService.Builder builder = BatchService.builder();
          JobStore chosen = store.getIfAvailable();
          if (chosen == null) {
            LOG.info(
                "batchkit keeps its batches in memory: the application has no DataSource (or no"
                    + " batch-jdbc); they are lost when it stops");
          } else {
            builder.store(chosen);
          }
          processors.orderedStream().forEach(p -> builder.processor(p.jobType(), p.processor()));
          listeners.orderedStream().forEach(builder::listener);
          Settings.apply(properties, builder);
          return builder.build();
        },
        service -> hooks.orderedStream().forEach(h -> h.started(service)),
        () -> hooks.orderedStream().forEach(ServiceHook::stopping));
  }

  /** The {@code batchkit} health indicator, with Actuator's health support. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "org.springframework.boot.health.contributor.HealthIndicator")
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

  /** The dashboard and REST API, with batch-web and {@code batchkit.web.enabled=true}. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(name = "io.batchkit.web.BatchWeb")
  @ConditionalOnBooleanProperty(name = "batchkit.web.enabled")
  static class WebConfiguration {
    @Bean
    WebDashboard batchkitWebDashboard(BatchkitProperties properties) {
      return new WebDashboard(properties.getWeb());
    }
  }
}
