package io.batchkit.web;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.batchkit.BatchId;
import io.batchkit.BatchRequest;
import io.batchkit.BatchService;
import io.batchkit.JobQuery;
import io.batchkit.spi.JobStore;
import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The REST API over the in-memory store, and what only a store made to fail can show. */
class InMemoryBatchWebTest extends AbstractBatchWebTest {
  @Override
  JobStore newStore() {
    return JobStore.inMemory();
  }

  /**
   * An export whose store fails after the first page is cut short: the connection drops, so the
   * client sees an error, never a complete-looking answer missing rows.
   */
  /** The export's page size (Exports.PAGE): the store fails from the second page on. */
  private static final int PAGE = 1_000;

  @Test
  void anExportThatFailsHalfWay_endsWithABrokenConnection_notACompleteAnswer() throws Exception {
    JobStore real = JobStore.inMemory();
    JobStore failing =
        (JobStore)
            Proxy.newProxyInstance(
                JobStore.class.getClassLoader(),
                new Class<?>[] {JobStore.class},
                (proxy, method, args) -> {
                  if (method.getName().equals("listJobs")
                      && args.length == 2
                      && ((JobQuery) args[1]).offset() >= PAGE) {
                    throw new IllegalStateException("the store went away");
                  }
                  try {
                    return method.invoke(real, args);
                  } catch (InvocationTargetException e) {
                    throw e.getCause();
                  }
                });
    web.close();
    service.close();
    service =
        BatchService.builder()
            .store(failing)
            .discoverProcessors(false)
            .processor(ECHO, context -> context.payload())
            .build();
    web = BatchWeb.builder(service).port(0).start();
    List<String> items = new ArrayList<>();
    for (int i = 0; i < PAGE + 10; i++) {
      items.add("item-" + i);
    }
    BatchId id = service.submit(BatchRequest.builder(ECHO).items(items).build()).id();
    service.awaitCompletion(id, AWAIT);

    assertThrows(IOException.class, () -> get("api/batches/" + id + "/results"));
    assertThrows(
        IOException.class,
        () ->
            http.send(
                request("api/batches/" + id + "/results.zip").GET().build(),
                HttpResponse.BodyHandlers.ofByteArray()));
    assertEquals(200, get("api/batches/" + id).statusCode(), "the server still answers");
  }
}
