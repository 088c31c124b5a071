package io.batchkit.spring.autoconfigure;

import io.batchkit.BatchService;
import io.batchkit.web.BatchWeb;

/** The dashboard's server, started with the service and stopped before it. */
final class WebDashboard implements ServiceHook {
  private final BatchkitProperties.Web settings;
  private BatchWeb web;

  WebDashboard(BatchkitProperties.Web settings) {
    this.settings = settings;
  }

  @Override
  public synchronized void started(BatchService service) {
    BatchWeb.Builder builder =
        BatchWeb.builder(service).port(settings.getPort()).bindAddress(settings.getBindAddress());
    if (settings.getAuthToken() != null) {
      builder.authToken(settings.getAuthToken());
    }
    web = builder.start();
  }

  @Override
  public synchronized void stopping() {
    if (web != null) {
      web.close();
      web = null;
    }
  }

  /** The running dashboard's address, or null. */
  synchronized java.net.URI uri() {
    return web == null ? null : web.uri();
  }
}
