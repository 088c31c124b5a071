package io.batchkit.spring.autoconfigure;

import java.time.Duration;
import org.springframework.boot.context.properties.ConfigurationProperties;

/**
 * The settings of the auto-configured {@code BatchService}, under {@code batchkit.}. A setting left
 * unset keeps the service's own default ({@code BatchService.Builder}); a bad value fails the
 * context's start with the builder's message.
 */
@ConfigurationProperties("batchkit")
public class BatchkitProperties {
  /** Whether the auto-configuration makes a BatchService at all. */
  private boolean enabled = true;

  /** The most jobs the service runs at once (default 8). */
  private Integer maxConcurrency;

  /** A batch's own limit of jobs running at once, across every node, when it sets none (3). */
  private Integer defaultBatchConcurrency;

  /** Attempts per job when a batch sets none (3). */
  private Integer defaultMaxAttempts;

  /** The time an attempt may run when a batch sets none (15 minutes). */
  private Duration defaultJobTimeout;

  /** This node's id in the store; unique among the live nodes (default: a random one). */
  private String nodeId;

  /** How long a claimed job's lease lasts before another node may take it back (30 s). */
  private Duration leaseDuration;

  /** How often an idle service looks for work at first (500 ms). */
  private Duration pollInterval;

  /**
   * How long running jobs may take to end when the application shuts down (default: what fits in
   * spring.lifecycle.timeout-per-shutdown-phase, less 10 s: 20 s).
   */
  private Duration shutdownGracePeriod;

  private final Jdbc jdbc = new Jdbc();
  private final Web web = new Web();

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public Integer getMaxConcurrency() {
    return maxConcurrency;
  }

  public void setMaxConcurrency(Integer maxConcurrency) {
    this.maxConcurrency = maxConcurrency;
  }

  public Integer getDefaultBatchConcurrency() {
    return defaultBatchConcurrency;
  }

  public void setDefaultBatchConcurrency(Integer defaultBatchConcurrency) {
    this.defaultBatchConcurrency = defaultBatchConcurrency;
  }

  public Integer getDefaultMaxAttempts() {
    return defaultMaxAttempts;
  }

  public void setDefaultMaxAttempts(Integer defaultMaxAttempts) {
    this.defaultMaxAttempts = defaultMaxAttempts;
  }

  public Duration getDefaultJobTimeout() {
    return defaultJobTimeout;
  }

  public void setDefaultJobTimeout(Duration defaultJobTimeout) {
    this.defaultJobTimeout = defaultJobTimeout;
  }

  public String getNodeId() {
    return nodeId;
  }

  public void setNodeId(String nodeId) {
    this.nodeId = nodeId;
  }

  public Duration getLeaseDuration() {
    return leaseDuration;
  }

  public void setLeaseDuration(Duration leaseDuration) {
    this.leaseDuration = leaseDuration;
  }

  public Duration getPollInterval() {
    return pollInterval;
  }

  public void setPollInterval(Duration pollInterval) {
    this.pollInterval = pollInterval;
  }

  public Duration getShutdownGracePeriod() {
    return shutdownGracePeriod;
  }

  public void setShutdownGracePeriod(Duration shutdownGracePeriod) {
    this.shutdownGracePeriod = shutdownGracePeriod;
  }

  public Jdbc getJdbc() {
    return jdbc;
  }

  public Web getWeb() {
    return web;
  }

  /** The JDBC store, made when the application has a DataSource. */
  public static class Jdbc {
    /** Whether the store creates its missing tables at start (false when Flyway makes them). */
    private boolean createSchema = true;

    /** The prefix of the store's table names. */
    private String tablePrefix = "batchkit_";

    public boolean isCreateSchema() {
      return createSchema;
    }

    public void setCreateSchema(boolean createSchema) {
      this.createSchema = createSchema;
    }

    public String getTablePrefix() {
      return tablePrefix;
    }

    public void setTablePrefix(String tablePrefix) {
      this.tablePrefix = tablePrefix;
    }
  }

  /** The dashboard and REST API (batch-web), started with the application when enabled. */
  public static class Web {
    /**
     * Whether the dashboard's own server starts with the application, when batch-web is on the
     * class path (off by default: it opens a port).
     */
    private boolean enabled;

    /** Its port (batch-web's default, 8089); 0 picks a free one. */
    private int port = 8089;

    /** The address it listens on. */
    private String bindAddress = "127.0.0.1";

    /** The token every request must carry ({@code Authorization: Bearer}); unset, none. */
    private String authToken;

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public int getPort() {
      return port;
    }

    public void setPort(int port) {
      this.port = port;
    }

    public String getBindAddress() {
      return bindAddress;
    }

    public void setBindAddress(String bindAddress) {
      this.bindAddress = bindAddress;
    }

    public String getAuthToken() {
      return authToken;
    }

    public void setAuthToken(String authToken) {
      this.authToken = authToken;
    }
  }
}
