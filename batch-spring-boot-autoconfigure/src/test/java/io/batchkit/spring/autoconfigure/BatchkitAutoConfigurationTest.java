package io.batchkit.spring.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.batchkit.Batch;
import io.batchkit.BatchListener;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.BatchStatus;
import io.batchkit.JobProcessor;
import io.batchkit.JobQuery;
import io.batchkit.jdbc.JdbcJobStore;
import io.batchkit.micrometer.BatchkitMetrics;
import io.batchkit.spi.JobProcessorProvider;
import io.batchkit.spi.JobStore;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.springframework.boot.autoconfigure.AutoConfigurations;
import org.springframework.boot.health.contributor.Health;
import org.springframework.boot.health.contributor.Status;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.test.context.FilteredClassLoader;
import org.springframework.boot.test.context.runner.ApplicationContextRunner;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.mock.env.MockEnvironment;

/** Each condition of the auto-configuration, in a context of its own. */
class BatchkitAutoConfigurationTest {
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final ApplicationContextRunner runner =
      new ApplicationContextRunner()
          .withConfiguration(AutoConfigurations.of(BatchkitAutoConfiguration.class))
          .withPropertyValues("batchkit.poll-interval=20ms");

  private final ApplicationContextRunner withDataSource =
      runner
          .withConfiguration(AutoConfigurations.of(DataSourceAutoConfiguration.class))
          .withPropertyValues(
              "spring.datasource.url=jdbc:h2:mem:boot-" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1");

  @Test
  void withoutDataSource_theServiceKeepsItsBatchesInMemory_andRunsProcessorBeans() {
    runner
        .withUserConfiguration(Processors.class)
        .run(
            context -> {
              assertThat(context).hasSingleBean(BatchService.class).doesNotHaveBean(JobStore.class);
              BatchService service = context.getBean(BatchService.class);
              Batch done = runOne(service);
              assertThat(done.status()).isEqualTo(BatchStatus.COMPLETED);
            });
  }

  @Test
  void withDataSource_theStoreIsJdbcOnIt_withTheTablesCreated() {
    withDataSource
        .withUserConfiguration(Processors.class)
        .withPropertyValues("batchkit.jdbc.table-prefix=bootx_")
        .run(
            context -> {
              assertThat(context).getBean(JobStore.class).isInstanceOf(JdbcJobStore.class);
              Batch done = runOne(context.getBean(BatchService.class));
              assertThat(done.status()).isEqualTo(BatchStatus.COMPLETED);
              JdbcJobStore store = (JdbcJobStore) context.getBean(JobStore.class);
              assertThat(store.findBatch(done.id())).isPresent();
            });
  }

  @Test
  void withoutBatchJdbc_aDataSourceStillLeavesTheServiceInMemory() {
    withDataSource
        .withClassLoader(new FilteredClassLoader(JdbcJobStore.class))
        .run(
            context ->
                assertThat(context)
                    .hasSingleBean(BatchService.class)
                    .doesNotHaveBean(JobStore.class));
  }

  @Test
  void listenerBeans_areAdded() {
    runner
        .withUserConfiguration(Processors.class, Listening.class)
        .run(
            context -> {
              Batch done = runOne(context.getBean(BatchService.class));
              Listening listening = context.getBean(Listening.class);
              await().atMost(WAIT).until(() -> listening.finished.contains(done.id().toString()));
            });
  }

  @Test
  void theApplicationsOwnServiceOrStore_replacesTheDefault() {
    runner
        .withUserConfiguration(OwnStore.class, Processors.class)
        .run(
            context -> {
              assertThat(context.getBean(JobStore.class)).isSameAs(OwnStore.STORE);
              Batch done = runOne(context.getBean(BatchService.class));
              assertThat(OwnStore.STORE.findBatch(done.id())).isPresent();
            });
    withDataSource
        .withUserConfiguration(OwnService.class)
        .run(
            context ->
                assertThat(context)
                    .hasSingleBean(BatchService.class)
                    .doesNotHaveBean(LifecycleBatchService.class)
                    .doesNotHaveBean(JobStore.class) // no tables made for a store nobody uses
                    .doesNotHaveBean(BatchkitMetrics.class)
                    .hasSingleBean(BatchkitHealthIndicator.class));
  }

  @Test
  void disabled_makesNoService() {
    runner
        .withPropertyValues("batchkit.enabled=false")
        .run(context -> assertThat(context).doesNotHaveBean(BatchService.class));
  }

  @Test
  void properties_reachTheService_andABadOneFailsTheStart() {
    runner
        .withPropertyValues("batchkit.node-id=boot-node-1", "batchkit.max-concurrency=3")
        .run(
            context ->
                assertThat(context.getBean(BatchService.class).nodeId()).isEqualTo("boot-node-1"));
    runner
        .withPropertyValues("batchkit.max-concurrency=0")
        .run(
            context ->
                assertThat(context)
                    .hasFailed()
                    .getFailure()
                    .rootCause()
                    .hasMessageContaining("maxConcurrency"));
  }

  @Test
  void theServiceStartsAndStopsWithTheContext_andAPausedContextGetsANewOne() {
    runner
        .withUserConfiguration(Processors.class)
        .run(
            context -> {
              LifecycleBatchService service = context.getBean(LifecycleBatchService.class);
              assertThat(service.isRunning()).isTrue();
              String first = service.nodeId();

              context.stop();
              assertThat(service.isRunning()).isFalse();
              context.start();
              assertThat(service.isRunning()).isTrue();
              assertThat(runOne(service).status()).isEqualTo(BatchStatus.COMPLETED);
              assertThat(service.nodeId()).isNotEqualTo(first);

              context.close();
              assertThat(service.isClosed()).isTrue();
              assertThat(service.isRunning()).isFalse();
            });
  }

  @Test
  void shutdownGracePeriod_fitsSpringsShutdownPhase_unlessSet() {
    assertThat(
            Settings.shutdownPhase(
                new MockEnvironment()
                    .withProperty("spring.lifecycle.timeout-per-shutdown-phase", "45s")))
        .isEqualTo(Duration.ofSeconds(45));
    assertThat(Settings.shutdownPhase(new MockEnvironment())).isEqualTo(Duration.ofSeconds(30));
    BatchService.Builder builder = BatchService.builder();
    Settings.apply(new BatchkitProperties(), Duration.ofSeconds(45), builder);
    assertThat(builder.toString()).contains("shutdownGracePeriod=PT35S");
    BatchkitProperties set = new BatchkitProperties();
    set.setShutdownGracePeriod(Duration.ofSeconds(50));
    Settings.apply(set, Duration.ofSeconds(45), builder);
    assertThat(builder.toString()).contains("shutdownGracePeriod=PT50S");
    Settings.apply(new BatchkitProperties(), Duration.ofSeconds(5), builder);
    assertThat(builder.toString()).contains("shutdownGracePeriod=PT1S");
  }

  @Test
  void health_isUpWithTheNodeAndCounts_andDownOnceTheServiceIsClosed() {
    runner
        .withPropertyValues("batchkit.node-id=healthy")
        .run(
            context -> {
              BatchkitHealthIndicator health = context.getBean(BatchkitHealthIndicator.class);
              Health up = health.health(true);
              assertThat(up.getStatus()).isEqualTo(Status.UP);
              assertThat(up.getDetails())
                  .containsEntry("nodeId", "healthy")
                  .containsEntry("running", 0)
                  .containsEntry("queued", 0L);
              context.getBean(BatchService.class).close();
              assertThat(health.health(true).getStatus()).isEqualTo(Status.DOWN);
            });
  }

  @Test
  void metrics_areABinderThatWatchesTheService() {
    runner
        .withUserConfiguration(Processors.class)
        .run(
            context -> {
              BatchkitMetrics metrics = context.getBean(BatchkitMetrics.class);
              SimpleMeterRegistry registry = new SimpleMeterRegistry();
              metrics.bindTo(registry);
              runOne(context.getBean(BatchService.class));
              await()
                  .atMost(WAIT)
                  .until(
                      () ->
                          registry.find(BatchkitMetrics.BATCHES_FINISHED).counter() != null
                              && registry.get(BatchkitMetrics.JOBS_QUEUED).gauge().value() == 0.0);
            });
    runner
        .withClassLoader(new FilteredClassLoader(BatchkitMetrics.class))
        .run(context -> assertThat(context).doesNotHaveBean("batchkitMetrics"));
  }

  @Test
  void dashboard_startsWithTheService_whenEnabled_andNotByDefault() {
    runner
        .withPropertyValues("batchkit.web.enabled=true", "batchkit.web.port=0")
        .run(
            context -> {
              URI uri = context.getBean(WebDashboard.class).uri();
              assertThat(uri).isNotNull();
              HttpResponse<String> response =
                  HttpClient.newHttpClient()
                      .send(
                          HttpRequest.newBuilder(uri.resolve("api/statistics")).build(),
                          HttpResponse.BodyHandlers.ofString());
              assertThat(response.statusCode()).isEqualTo(200);
            });
    runner.run(context -> assertThat(context).doesNotHaveBean(WebDashboard.class));
    runner
        .withPropertyValues("batchkit.web.enabled=true")
        .withClassLoader(new FilteredClassLoader("io.batchkit.web"))
        .run(context -> assertThat(context).doesNotHaveBean(WebDashboard.class));
  }

  @Test
  void health_isDownWhenTheStoreDoesNotAnswer_withTheNodeId() {
    runner
        .withUserConfiguration(FlakyStore.class)
        .withPropertyValues("batchkit.node-id=flaky")
        .run(
            context -> {
              BatchkitHealthIndicator health = context.getBean(BatchkitHealthIndicator.class);
              assertThat(health.health(true).getStatus()).isEqualTo(Status.UP);

              FlakyStore.DOWN.set(true);
              try {
                Health down = health.health(true);
                assertThat(down.getStatus()).isEqualTo(Status.DOWN);
                assertThat(down.getDetails()).containsEntry("nodeId", "flaky");
              } finally {
                FlakyStore.DOWN.set(false);
              }
            });
  }

  @Test
  void health_canBeTurnedOff_andIsAbsentWithoutActuatorsHealth() {
    runner
        .withPropertyValues("management.health.batchkit.enabled=false")
        .run(context -> assertThat(context).doesNotHaveBean(BatchkitHealthIndicator.class));
    runner
        .withClassLoader(new FilteredClassLoader("org.springframework.boot.health"))
        .run(context -> assertThat(context).doesNotHaveBean(BatchkitHealthIndicator.class));
  }

  @Test
  void processorsComeFromBeansOnly_aProviderListedForTheServiceLoaderDoesNotClash() {
    runner
        .withUserConfiguration(Processors.class)
        .run(
            context -> {
              assertThat(context).hasNotFailed();
              BatchService service = context.getBean(BatchService.class);
              Batch done = runOne(service);
              assertThat(service.getJobs(done.id(), JobQuery.all()).items())
                  .allMatch(
                      job ->
                          job.result().orElseThrow().equals("a")
                              || job.result().orElseThrow().equals("b"));
            });
  }

  private static Batch runOne(BatchService service) {
    Batch batch = service.submit(BatchRequest.builder("echo").items(List.of("a", "b")).build());
    return service.awaitCompletion(batch.id(), WAIT);
  }

  @Configuration(proxyBeanMethods = false)
  static class Processors {
    @Bean
    JobProcessorProvider echo() {
      return new JobProcessorProvider() {
        @Override
        public String jobType() {
          return "echo";
        }

        @Override
        public JobProcessor processor() {
          return ctx -> ctx.payload();
        }
      };
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class Listening implements BatchListener {
    final List<String> finished = new CopyOnWriteArrayList<>();

    @Override
    public void batchFinished(Batch batch) {
      finished.add(batch.id().toString());
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnStore {
    static final JobStore STORE = JobStore.inMemory();

    @Bean
    JobStore myStore() {
      return STORE;
    }
  }

  /** A store that fails every call while {@link #DOWN} is set, as an unreachable database would. */
  @Configuration(proxyBeanMethods = false)
  static class FlakyStore {
    static final AtomicBoolean DOWN = new AtomicBoolean();

    @Bean
    JobStore flakyStore() {
      JobStore real = JobStore.inMemory();
      return (JobStore)
          Proxy.newProxyInstance(
              JobStore.class.getClassLoader(),
              new Class<?>[] {JobStore.class},
              (proxy, method, args) -> {
                if (DOWN.get()) {
                  throw new IllegalStateException("the database does not answer");
                }
                try {
                  return method.invoke(real, args);
                } catch (InvocationTargetException e) {
                  throw e.getCause();
                }
              });
    }
  }

  @Configuration(proxyBeanMethods = false)
  static class OwnService {
    @Bean(destroyMethod = "close")
    BatchService myService() {
      return BatchService.builder().discoverProcessors(false).build();
    }
  }
}
